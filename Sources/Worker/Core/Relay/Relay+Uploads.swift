import Foundation
import PumasiShared

/// A large submission through a relay: the local client uploads it to the relay in chunks (each synced to a file
/// beside the outbox before it is acknowledged), commits it to the outbox, and gets a `queued` receipt at once; the
/// relay then uploads the file to the broker in chunks between its other work, resuming where the broker stands
/// after the broker was away. Memory holds one chunk at a time.
extension Relay {
    /// Where files wait: `<outbox>.files/uploads` for uploads under way, `<outbox>.files/outbox` once committed.
    var filesDirectory: String { config.outboxPath + ".files" }

    /// The relay's own chunk cap.
    static let chunkBytes = 4 << 20

    /// `pumasi.upload.begin`: asks the broker first, so that a file it would refuse (too large, a closed challenge)
    /// is refused before its bytes leave the client; with the broker away, the relay takes it and the broker
    /// decides on delivery.
    func beginUpload(_ body: [Data], _ state: inout State) throws -> [Data] {
        var request = try Wire.decode(UploadBeginRequest.self, from: body.first)
        // A challenge's file goes to the broker as it is: only submissions wait in the outbox.
        if request.purpose != nil { return try state.client.request(service: Service.uploadBegin, body: body) }
        guard request.size > 0 else {
            throw ProtocolError(.badRequest, "the file is empty (0 bytes): there is nothing to submit")
        }
        request.solver = try submitter(named: request.solver, defaulted: request.solverDefaulted, state)
        request.solverDefaulted = nil
        let id = UploadInfo.id(
            principal: request.solver ?? "", challenge: request.challenge, sha256: request.sha256, size: request.size)
        // The same file kept here moments ago (the command run twice, the broker away): that submission.
        if let window = request.repeatWindowSeconds,
            let entry = try state.outbox.repeated(
                solver: request.solver ?? "", challenge: request.challenge, sha256: request.sha256, window: window,
                now: WallClock.now())
        {
            var info = UploadInfo(
                upload: id, sha256: request.sha256, size: request.size, received: request.size,
                chunkBytes: Self.chunkBytes, maxBytes: Int.max)
            info.repeated = receipt(entry, state)
            info.repeated?.duplicate = true
            return [Wire.encode(Reply.success(info))]
        }
        var maxBytes = Int.max
        if state.brokerAway == nil {
            do {
                let answer = try state.client.call(Service.uploadBegin, request, as: UploadInfo.self).0
                // The broker has it already, from moments ago: nothing to keep or send.
                if answer.repeated != nil { return [Wire.encode(Reply.success(answer))] }
                maxBytes = answer.maxBytes
            } catch ClientError.server(let error) where error.isFinal {
                throw error
            } catch ClientError.server(let error) where error.isBusy {
                // The broker decides on delivery, when the wait it asked for is over.
                state.busy(error)
            } catch {
                brokerFailed(error, &state)
                logger.notice("broker unreachable; the relay takes the upload", ["error": "\(error)"])
            }
        }
        try FileManager.default.createDirectory(
            atPath: filesDirectory + "/uploads", withIntermediateDirectories: true)
        try state.outbox.beginUpload(id, request, maxBytes: maxBytes)
        let info = UploadInfo(
            upload: id, sha256: request.sha256, size: request.size, received: min(received(id), request.size),
            chunkBytes: Self.chunkBytes, maxBytes: maxBytes)
        return [Wire.encode(Reply.success(info))]
    }

    /// `pumasi.upload.chunk`, to the relay's own file.
    func uploadChunk(_ body: [Data], _ state: inout State) throws -> [Data] {
        let request = try Wire.decode(UploadChunkRequest.self, from: body.first)
        guard UploadInfo.isWellFormed(request.upload), let (upload, maxBytes) = try state.outbox.upload(request.upload)
        else {
            // Not the relay's own: a challenge's file, on its way to the broker.
            return try state.client.request(service: Service.uploadChunk, body: body)
        }
        guard body.count == 2 else {
            throw ProtocolError(.badRequest, "a chunk carries exactly one frame after the JSON; got \(body.count - 1)")
        }
        let chunk = body[1]
        guard chunk.count <= Self.chunkBytes else {
            throw ProtocolError(
                .tooLarge,
                "a chunk of \(chunk.count) bytes is larger than this relay's chunk cap of \(Self.chunkBytes) bytes")
        }
        guard !chunk.isEmpty else { throw ProtocolError(.badRequest, "the chunk is empty") }
        let held = received(request.upload)
        guard request.offset == held else {
            throw ProtocolError(
                .conflict,
                "chunk at offset \(request.offset), but \(request.upload) holds \(held) bytes: send from \(held)")
        }
        guard held + chunk.count <= upload.size else {
            throw ProtocolError(
                .badRequest,
                "the chunk ends at byte \(held + chunk.count), past the \(upload.size) bytes declared for \(request.upload)"
            )
        }
        let path = partPath(request.upload)
        // A file that cannot be made fails the open below, which names the path.
        if held == 0 { _ = FileManager.default.createFile(atPath: path, contents: nil) }
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.truncate(atOffset: UInt64(held))
        try handle.seekToEnd()
        try handle.write(contentsOf: chunk)
        try handle.synchronize()
        if held == 0 {
            var hasher = SHA256()
            hasher.update(chunk)
            state.hashing[request.upload] = (hasher, chunk.count)
        } else if var running = state.hashing[request.upload], running.bytes == held {
            running.hasher.update(chunk)
            running.bytes += chunk.count
            state.hashing[request.upload] = running
        } else {
            state.hashing[request.upload] = nil
        }
        let info = UploadInfo(
            upload: request.upload, sha256: upload.sha256, size: upload.size, received: held + chunk.count,
            chunkBytes: Self.chunkBytes, maxBytes: maxBytes)
        return [Wire.encode(Reply.success(info))]
    }

    /// `pumasi.submit` naming an upload: checks the file, moves it into the outbox and answers `queued` at once;
    /// the delivery to the broker goes on in the relay's loop (`deliverFile`).
    func submitUpload(_ request: SubmitRequest, upload id: String, _ state: inout State) throws -> [Data] {
        var request = request
        let clientId = request.clientId ?? UUID().uuidString.lowercased()
        request.clientId = clientId
        request.upload = nil
        if let entry = try state.outbox.entry(solver: request.solver, clientId: clientId) {
            return [Wire.encode(Reply.success(receipt(entry, state)))]
        }
        guard UploadInfo.isWellFormed(id), let (upload, _) = try state.outbox.upload(id),
            upload.solver == request.solver, upload.challenge == request.challenge
        else { throw ProtocolError(.notFound, "no upload \(id) of yours to \(request.challenge)") }
        let held = received(id)
        guard held == upload.size else {
            throw ProtocolError(
                .conflict, "\(id) holds \(held) of its \(upload.size) bytes: send the rest (from \(held)) first")
        }
        let digest: String
        if var running = state.hashing.removeValue(forKey: id), running.bytes == held {
            digest = FileDigest.hex(running.hasher.finalize())
        } else {
            digest = try FileDigest.sha256(path: partPath(id)).sha256
        }
        guard digest == upload.sha256 else {
            unlink(partPath(id))
            throw ProtocolError(
                .badRequest,
                "\(id) arrived with SHA-256 \(digest), not \(upload.sha256) as declared: its bytes were thrown away; "
                    + "upload the file again")
        }
        let folder = filesDirectory + "/outbox"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let target = folder + "/" + SHA256.hex(Data("\(request.solver)\u{0}\(clientId)".utf8))
        guard rename(partPath(id), target) == 0 else {
            throw ProtocolError(.internal, "the relay could not move \(id) into its outbox (errno \(errno))")
        }
        Self.syncDirectory(folder)
        let entry = try state.outbox.add(
            request, clientId: clientId, file: .init(path: target, sha256: upload.sha256, size: upload.size),
            now: WallClock.now())
        try state.outbox.endUpload(id)
        logger.info("large submission kept in the outbox", ["client.id": clientId, "bytes": "\(upload.size)"])
        return [Wire.encode(Reply.success(receipt(entry, state)))]
    }

    /// Sends a file entry of the outbox to the broker, a slice of time at a time, so that the relay keeps answering
    /// its clients meanwhile; the loop comes back at once while `state.active` is set.
    /// - Returns: false when the broker did not answer (the next periodic check resumes the upload).
    func deliverFile(_ entry: OutboxEntry, _ file: RelayOutbox.StoredFile, _ state: inout State) -> Bool {
        if state.active?.clientId != entry.clientId {
            let request = SubmitRequest(
                challenge: entry.challenge, solver: entry.solver, filename: entry.filename, clientId: entry.clientId,
                comment: entry.comment)
            do {
                state.active = (
                    entry.clientId,
                    try Uploader(
                        client: state.client, path: file.path, request: request, sha256: file.sha256, size: file.size)
                )
            } catch {
                try? state.outbox.refused(entry, error: "the relay lost the file: \(error)")
                return true
            }
        }
        guard let uploader = state.active?.uploader else { return true }
        let until = WallClock.monotonicNanos() + 200_000_000
        do {
            while WallClock.monotonicNanos() < until {
                if let receipt = try uploader.step() {
                    try state.outbox.delivered(entry, submission: receipt.submission)
                    unlink(file.path)
                    state.active = nil
                    logger.info("outbox delivered", ["client.id": entry.clientId, "submission.id": receipt.submission])
                    return true
                }
            }
            return true
        } catch ClientError.server(let error) where error.code == .conflict {
            return true
        } catch ClientError.server(let error) where error.isBusy {
            // The uploader keeps where it stands: it goes on from there when the wait is over.
            state.busy(error)
            return true
        } catch ClientError.server(let error) where error.isFinal {
            try? state.outbox.refused(entry, error: error.message)
            unlink(file.path)
            state.active = nil
            logger.warning("outbox submission refused", ["client.id": entry.clientId, "reason": error.message])
            return true
        } catch {
            state.active = nil
            brokerFailed(error, &state)
            return false
        }
    }

    private static func syncDirectory(_ path: String) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }

    private func received(_ upload: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: partPath(upload)))?[.size] as? Int) ?? 0
    }

    private func partPath(_ upload: String) -> String { filesDirectory + "/uploads/\(upload).part" }

    /// The receipt for an outbox entry: the broker's, once delivered; else a queued one, with the reason the broker
    /// turns the relay away, if it does.
    func receipt(_ entry: OutboxEntry, _ state: State) -> Receipt {
        if entry.state == .delivered, let submission = entry.submission {
            return Receipt(
                submission: submission, challenge: entry.challenge, sha256: entry.sha256, size: entry.size,
                receivedAt: entry.queuedAt, duplicate: true)
        }
        var receipt = Receipt(
            submission: "pending:\(entry.clientId)", challenge: entry.challenge, sha256: entry.sha256, size: entry.size,
            receivedAt: entry.queuedAt, duplicate: false, queued: true)
        receipt.warning = state.refusal
        return receipt
    }
}
