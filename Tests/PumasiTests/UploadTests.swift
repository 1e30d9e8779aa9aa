import Foundation
import PumasiShared
import Testing

@testable import PumasiBroker
@testable import PumasiWorker

/// Files of any size: uploads in chunks (resumable), stored in the blob directory, fetched by evaluators and
/// downloaded by seekers in chunks. Small files and chunks (64 KiB) stand for large ones.
@Suite("Uploads: files of any size, in chunks", .timeLimit(.minutes(2)))
struct UploadTests {
    static let chunk = 64 << 10

    /// `size` bytes that do not repeat, written to a file.
    static func file(_ dir: TempDirectory, _ name: String, size: Int, seed: UInt64 = 1) throws -> (String, Data) {
        var generator = seed
        var bytes = [UInt8](repeating: 0, count: size)
        for index in bytes.indices {
            generator = generator &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            bytes[index] = UInt8(truncatingIfNeeded: generator >> 33)
        }
        let data = Data(bytes)
        let path = dir.file(name)
        try data.write(to: URL(fileURLWithPath: path))
        return (path, data)
    }

    static func broker(_ dir: TempDirectory, configure: (inout BrokerConfig) -> Void = { _ in }) throws
        -> BrokerHarness
    {
        try BrokerHarness(directory: dir.file("broker")) {
            $0.chunkBytes = chunk
            configure(&$0)
        }
    }

    static func request(_ challenge: String, _ name: String = "big.bin", clientId: String? = nil) -> SubmitRequest {
        SubmitRequest(challenge: challenge, solver: "ada", filename: name, clientId: clientId)
    }

    static func begin(_ client: BrokerClient, _ challenge: String, sha256: String, size: Int) throws -> UploadInfo {
        try client.call(
            Service.uploadBegin,
            UploadBeginRequest(challenge: challenge, sha256: sha256, size: size, filename: "big.bin", solver: "ada"),
            as: UploadInfo.self
        ).0
    }

    static func chunk(_ client: BrokerClient, _ upload: String, at offset: Int, _ bytes: Data) throws -> UploadInfo {
        try client.call(
            Service.uploadChunk, UploadChunkRequest(upload: upload, offset: offset), files: [bytes], as: UploadInfo.self
        ).0
    }

    @Test func aLargeSubmissionIsScoredByAPluginFromItsFileAndDownloadedWhole() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let plugin = try dir.write(
            "size", "#!/bin/sh\necho \"{\\\"score\\\": $(wc -c < \"$1\")}\"\n", executable: true)
        let broker = try Self.broker(dir)
        defer { broker.shutdown() }
        let evaluator = try EvaluatorHarness(
            broker: broker.router, cache: dir.file("cache"), plugins: ["size": plugin],
            configure: { $0.builtins = false })
        defer { evaluator.shutdown() }
        let client = try client(broker)
        let (spec, files) = sampleSpec(scorer: ScorerSpec(plugin: "size"))
        let challenge = try post(client, spec, files)
        let (path, data) = try Self.file(dir, "big.bin", size: 1_500_000)

        let uploader = try Uploader(client: client, path: path, request: Self.request(challenge.id))
        var steps = 0
        let receipt = try uploader.run { _, _ in steps += 1 }
        #expect(receipt.size == data.count && receipt.sha256 == SHA256.hex(data))
        #expect(steps >= data.count / Self.chunk)
        // The bytes are in the blob directory, by SHA-256, and not in the row.
        let stored = try Data(
            contentsOf: URL(
                fileURLWithPath: dir.file("broker/blobs/objects/\(receipt.sha256.prefix(2))/\(receipt.sha256)")))
        #expect(stored == data)
        let row = try TestBackend.database(dir.file("broker")).queryOne(
            "SELECT external, length(content) FROM submissions WHERE id = ?", [.text(receipt.submission)])
        #expect(row?.int(0) == 1 && row?.int(1) == 0)

        let info = try settled(client, receipt.submission)
        #expect(info.state == .scored)
        #expect(info.score == Double(data.count))

        let copy = dir.file("copy.bin")
        let fetched = try client.download(Service.submissionFile, to: copy) {
            SubmissionFileRequest(submission: receipt.submission, offset: $0)
        }
        #expect(fetched.size == data.count && fetched.name == "big.bin")
        #expect(try Data(contentsOf: URL(fileURLWithPath: copy)) == data)
    }

    @Test func anUploadBrokenThreeTimesResumesWhereTheBrokerStandsAndCompletes() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        var broker = try Self.broker(dir)
        let (router, pub) = (broker.router, broker.pub)
        let client = try BrokerClient(endpoint: router, timeoutSeconds: 1)
        let (spec, files) = sampleSpec()
        let challenge = try post(client, spec, files)
        let (path, data) = try Self.file(dir, "big.bin", size: 1_000_000, seed: 7)
        let uploader = try Uploader(client: client, path: path, request: Self.request(challenge.id, clientId: "c-1"))
        var breaks = 0
        var held: [Int] = []
        for _ in 0..<200 where uploader.receipt == nil {
            do {
                try uploader.step()
            } catch let error as ClientError where error.isTransient {
                // The broker is away: it comes back on the same endpoints and store, and the upload resumes.
                broker = try Self.broker(dir) {
                    $0.routerEndpoint = router
                    $0.publishEndpoint = pub
                }
                continue
            }
            if breaks < 3, uploader.sent >= (breaks + 1) * 4 * Self.chunk {
                breaks += 1
                held.append(uploader.sent)
                broker.shutdown()
            }
        }
        defer { broker.shutdown() }
        let receipt = try #require(uploader.receipt)
        #expect(breaks == 3 && uploader.resumes == 3)
        #expect(receipt.sha256 == SHA256.hex(data) && receipt.size == data.count)
        let copy = dir.file("copy.bin")
        _ = try client.download(Service.submissionFile, to: copy) {
            SubmissionFileRequest(submission: receipt.submission, offset: $0)
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: copy)) == data)
        #expect(held.count == 3)
    }

    @Test func aChunkAtTheWrongOffsetIsRefusedNamingWhereTheUploadStands() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let broker = try Self.broker(dir)
        defer { broker.shutdown() }
        let client = try client(broker)
        let (spec, files) = sampleSpec()
        let challenge = try post(client, spec, files)
        let data = Data(repeating: 7, count: 100_000)
        let upload = try Self.begin(client, challenge.id, sha256: SHA256.hex(data), size: data.count)
        #expect(upload.received == 0 && upload.chunkBytes == Self.chunk)
        let error = refusal { _ = try Self.chunk(client, upload.upload, at: 1_000, data.prefix(1_000)) }
        #expect(error?.code == .conflict)
        #expect(error?.message == "chunk at offset 1000, but \(upload.upload) holds 0 bytes: send from 0")
        let first = try Self.chunk(client, upload.upload, at: 0, data.prefix(1_000))
        #expect(first.received == 1_000)
        // Asking again says where it stands.
        #expect(try Self.begin(client, challenge.id, sha256: SHA256.hex(data), size: data.count).received == 1_000)
    }

    @Test func aFileWhoseHashDoesNotMatchTheDeclaredOneIsRefusedAtTheCommit() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let broker = try Self.broker(dir)
        defer { broker.shutdown() }
        let client = try client(broker)
        let (spec, files) = sampleSpec()
        let challenge = try post(client, spec, files)
        let data = Data(repeating: 1, count: 50_000)
        let declared = SHA256.hex(Data(repeating: 2, count: 50_000))
        let upload = try Self.begin(client, challenge.id, sha256: declared, size: data.count)
        _ = try Self.chunk(client, upload.upload, at: 0, data)
        var commit = Self.request(challenge.id)
        commit.upload = upload.upload
        let error = refusal { _ = try client.call(Service.submit, commit, as: Receipt.self) }
        #expect(error?.code == .badRequest)
        #expect(
            error?.message
                == "\(upload.upload) arrived with SHA-256 \(SHA256.hex(data)), not \(declared) as declared: its bytes "
                + "were thrown away; upload the file again")
        #expect(try Self.begin(client, challenge.id, sha256: declared, size: data.count).received == 0)
        #expect(
            try client.call(Service.show, ChallengeRequest(challenge: challenge.id), as: ChallengeInfo.self).0
                .submissions == 0)
    }

    @Test func aFileOverTheChallengesMaximumIsRefusedBeforeItsFirstChunk() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let broker = try Self.broker(dir)
        defer { broker.shutdown() }
        let client = try client(broker)
        var (spec, files) = sampleSpec()
        spec.rules = SubmissionRules(maxBytes: 100_000)
        let challenge = try post(client, spec, files)
        let shown = try client.call(Service.show, ChallengeRequest(challenge: challenge.id), as: ChallengeInfo.self).0
        #expect(shown.rules?.maxBytes == 100_000)
        let (path, _) = try Self.file(dir, "big.bin", size: 100_001)
        let uploader = try Uploader(client: client, path: path, request: Self.request(challenge.id))
        let error = refusal { _ = try uploader.run() }
        #expect(error?.code == .tooLarge)
        #expect(error?.message == "the file is 100001 bytes; \(challenge.id) takes submissions of at most 100000 bytes")
        #expect(uploader.info == nil)
        let partial = try FileManager.default.contentsOfDirectory(atPath: dir.file("broker/blobs/uploads"))
        #expect(partial.isEmpty)
        // In one frame too.
        let inline = refusal {
            _ = try submit(client, challenge.id, "ada", String(repeating: "x", count: 100_001))
        }
        #expect(inline?.code == .tooLarge)
        // A negative or absurd maximum is refused when posted.
        spec.rules = SubmissionRules(maxBytes: 0)
        #expect(refusal { _ = try post(client, spec, files) }?.message == "spec.rules.maxBytes must be at least 1")
    }

    @Test(arguments: [
        "upl_00000000000000000000000000000000", "upl_../../etc/passwd", "sub_1m84aka22k26cfne",
    ])
    func anUnknownUploadIdIsRefused(_ id: String) throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let broker = try Self.broker(dir)
        defer { broker.shutdown() }
        let client = try client(broker)
        let (spec, files) = sampleSpec()
        let challenge = try post(client, spec, files)
        let chunk = refusal { _ = try Self.chunk(client, id, at: 0, Data("42".utf8)) }
        #expect(chunk?.code == .notFound)
        #expect(chunk?.message == "no upload \(id): begin (or resume) it with pumasi.upload.begin")
        var commit = Self.request(challenge.id)
        commit.upload = id
        let submit = refusal { _ = try client.call(Service.submit, commit, as: Receipt.self) }
        #expect(submit?.message == "no upload \(id) of yours to \(challenge.id)")
    }

    @Test func anEmptyFileIsRefusedWhenItsUploadBegins() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let broker = try Self.broker(dir)
        defer { broker.shutdown() }
        let client = try client(broker)
        let (spec, files) = sampleSpec()
        let challenge = try post(client, spec, files)
        let error = refusal { _ = try Self.begin(client, challenge.id, sha256: SHA256.hex(Data()), size: 0) }
        #expect(error?.code == .badRequest)
        #expect(error?.message == "the file is empty (0 bytes): there is nothing to submit")
    }

    @Test func aChunkLargerThanTheCapIsRefused() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let broker = try Self.broker(dir)
        defer { broker.shutdown() }
        let client = try client(broker)
        let (spec, files) = sampleSpec()
        let challenge = try post(client, spec, files)
        let data = Data(repeating: 3, count: Self.chunk + 1)
        let upload = try Self.begin(client, challenge.id, sha256: SHA256.hex(data), size: data.count)
        let error = refusal { _ = try Self.chunk(client, upload.upload, at: 0, data) }
        #expect(error?.code == .tooLarge)
        #expect(
            error?.message
                == "a chunk of \(Self.chunk + 1) bytes is larger than this broker's chunk cap of \(Self.chunk) bytes")
        #expect(try Self.begin(client, challenge.id, sha256: SHA256.hex(data), size: data.count).received == 0)
    }

    @Test func aLargeSubmissionThroughARelayWaitsOnDiskAndIsUploadedWhenTheBrokerReturns() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        var broker = try Self.broker(dir)
        let (router, pub) = (broker.router, broker.pub)
        let (spec, files) = sampleSpec()
        let challenge = try post(try client(broker), spec, files)
        broker.shutdown()

        let relay = try RelayHarness(broker: router, pub: pub, outbox: dir.file("outbox.sqlite3"), syncInterval: 200)
        defer { relay.shutdown() }
        let viaRelay = try BrokerClient(endpoint: relay.listen, timeoutSeconds: 10)
        let (path, data) = try Self.file(dir, "big.bin", size: 9_000_000, seed: 3)
        let queued = try Uploader(client: viaRelay, path: path, request: Self.request(challenge.id, clientId: "r-1"))
            .run()
        #expect(queued.queued == true && queued.submission == "pending:r-1" && queued.size == data.count)
        // Kept as a file beside the outbox, not in its row.
        let waiting = try FileManager.default.contentsOfDirectory(atPath: dir.file("outbox.sqlite3.files/outbox"))
        #expect(waiting.count == 1)

        broker = try Self.broker(dir) {
            $0.routerEndpoint = router
            $0.publishEndpoint = pub
        }
        defer { broker.shutdown() }
        var entries: [OutboxEntry] = []
        #expect(
            try eventually(seconds: 30) {
                entries = try viaRelay.call(Service.relayOutbox, Empty(), as: [OutboxEntry].self).0
                return entries.first?.state == .delivered
            })
        let submission = try #require(entries.first?.submission)
        #expect(entries.first?.size == data.count)
        let direct = try client(broker)
        let copy = dir.file("copy.bin")
        _ = try direct.download(Service.submissionFile, to: copy) {
            SubmissionFileRequest(submission: submission, offset: $0)
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: copy)) == data)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.file("outbox.sqlite3.files/outbox")).isEmpty)
    }

    @Test func aChallengesLargeFilesArePostedInChunksFetchedByTheEvaluatorAndDownloaded() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let plugin = try dir.write(
            "reference-size", "#!/bin/sh\necho \"{\\\"score\\\": $(wc -c < \"$2/answer.bin\")}\"\n", executable: true)
        let broker = try Self.broker(dir)
        defer { broker.shutdown() }
        let evaluator = try EvaluatorHarness(
            broker: broker.router, cache: dir.file("cache"), plugins: ["reference-size": plugin],
            configure: { $0.builtins = false })
        defer { evaluator.shutdown() }
        let client = try client(broker)
        let (publicPath, publicData) = try Self.file(dir, "data.bin", size: 1_100_000, seed: 11)
        let (referencePath, referenceData) = try Self.file(dir, "answer.bin", size: 1_300_000, seed: 12)
        var uploads: [String] = []
        for (path, data, name) in [(publicPath, publicData, "data.bin"), (referencePath, referenceData, "answer.bin")] {
            let uploader = try Uploader(
                client: client, path: path, file: name, sha256: SHA256.hex(data), size: data.count)
            uploads.append(try uploader.runFile().upload)
        }
        var (spec, _) = sampleSpec(scorer: ScorerSpec(plugin: "reference-size"))
        spec.files = [FileEntry(name: "data.bin", role: .public), FileEntry(name: "answer.bin", role: .reference)]
        let challenge = try client.call(
            Service.post, PostRequest(spec: spec, uploads: uploads), files: [Data(), Data()], as: ChallengeInfo.self
        ).0
        #expect(challenge.files.map(\.size) == [publicData.count])
        let row = try TestBackend.database(dir.file("broker")).queryOne(
            "SELECT external, length(content) FROM blobs WHERE sha256 = ?", [.text(SHA256.hex(referenceData))])
        #expect(row?.int(0) == 1 && row?.int(1) == 0)

        let info = try settled(client, try submit(client, challenge.id, "ada", "anything").submission)
        #expect(info.state == .scored)
        #expect(info.score == Double(referenceData.count))
        let copy = dir.file("copy.bin")
        _ = try client.download(Service.file, to: copy) {
            FileRequest(challenge: challenge.id, name: "data.bin", offset: $0)
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: copy)) == publicData)
        // A post naming an upload that is not there is refused, naming it.
        let missing = "upl_" + String(repeating: "0", count: 32)
        let error = refusal {
            _ = try client.call(
                Service.post, PostRequest(spec: spec, uploads: [missing, ""]), files: [Data(), Data("42".utf8)],
                as: ChallengeInfo.self)
        }
        #expect(error?.message == "no upload \(missing) of yours for a challenge's file")
    }

    @Test func aJudgeGetsALargeSubmissionWhole() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let broker = try Self.broker(dir)
        defer { broker.shutdown() }
        let client = try client(broker)
        let challenge = try post(client, JudgingTests.judgedSpec(JudgingSpec()), [])
        let (path, data) = try Self.file(dir, "essay.bin", size: 1_200_000, seed: 31)
        let receipt = try Uploader(client: client, path: path, request: Self.request(challenge.id, "essay.md")).run()
        #expect(receipt.size == data.count)
        let next = try JudgingTests.next(client, challenge: challenge.id, judge: "judy")
        #expect(next.reply.assignment?.size == data.count && next.reply.assignment?.filename == "submission.md")
        #expect(next.file == data)
    }

    @Test func anAbandonedUploadIsForgottenAfterItsExpiry() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        var broker = try Self.broker(dir)
        let (router, pub) = (broker.router, broker.pub)
        let client = try BrokerClient(endpoint: router, timeoutSeconds: 5)
        let (spec, files) = sampleSpec()
        let challenge = try post(client, spec, files)
        let data = Data(repeating: 5, count: 100_000)
        let upload = try Self.begin(client, challenge.id, sha256: SHA256.hex(data), size: data.count)
        _ = try Self.chunk(client, upload.upload, at: 0, data.prefix(Self.chunk))
        let part = dir.file("broker/blobs/uploads/\(upload.upload).part")
        #expect(FileManager.default.fileExists(atPath: part))
        broker.shutdown()
        // Back with an expiry of a millisecond: the upload is abandoned, and its partial file goes.
        broker = try Self.broker(dir) {
            $0.routerEndpoint = router
            $0.publishEndpoint = pub
            $0.uploadExpiry = 1
        }
        defer { broker.shutdown() }
        #expect(eventually { !FileManager.default.fileExists(atPath: part) })
        #expect(
            refusal { _ = try Self.chunk(client, upload.upload, at: Self.chunk, data.suffix(from: Self.chunk)) }?.code
                == .notFound)
    }
}
