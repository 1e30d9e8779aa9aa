import Foundation
import PumasiShared

extension Broker {
    /// The next message on the ROUTER, read within `MessageLimits`; nil when none is waiting.
    ///
    /// A message over a limit is answered here (`too_large`, naming the limit and the message's size) and comes back
    /// with `cut` set, holding only its envelope and whatever frames fit before the limit: the caller counts it and
    /// does not handle it. What it cost to read, in bytes, is counted for `giveBackMemory`.
    func nextMessage() throws -> ZMQMessage? {
        let limits = MessageLimits(maxMessageBytes: config.maxMessageBytes)
        var breach: MessageLimits.Breach?
        let read = try router.receive(dontWait: true) { kept, keptBytes, size in
            breach = limits.breach(kept, keptBytes: keptBytes, next: size)
            return breach == nil
        }
        guard let message = read else { return nil }
        guard let cut = message.cut, let breach else {
            bytesSinceTrim += message.frames.reduce(0) { $0 + $1.count }
            return message
        }
        bytesSinceTrim += cut.bytes
        refuse(message, MessageLimits.refusal(breach, cut), code: breach.code)
        return message
    }

    /// Answers a message refused for its size or shape: a client on its service, a message that is not MDP on
    /// `pumasi.error`. A worker's is only logged: an evaluator does not read errors, and the leases it answered expire
    /// and are retried.
    private func refuse(_ message: ZMQMessage, _ reason: String, code: ProtocolError.Code) {
        guard let identity = message.frames.first else { return }
        if let line = throttled("message over its limits refused", by: peerName(identity)) {
            logger.warning(
                "message over its limits refused",
                [
                    "peer": peerName(identity), "reason": reason, "occurrences": "\(line.occurrences)",
                    "others.unlogged": "\(line.others)",
                ])
        }
        let frames = message.frames
        if frames.count > 2, frames[2] == MDP.workerHeader { return }
        var service = "pumasi.error"
        if frames.count > 3, frames[2] == MDP.clientHeader, let name = String(data: frames[3], encoding: .utf8),
            !name.isEmpty
        {
            service = name
        }
        let body = Wire.encode(Reply<Empty>.failure(ProtocolError(code, reason)))
        send(to: identity, MDP.clientReply(service: service, body: [body]))
    }

    /// How long a pass reads messages before it commits, sends and runs its timers: a fifth of the heartbeat
    /// interval, at most 100 ms, so that heartbeats go out on time whatever stream of requests comes in.
    var passBudgetNanos: UInt64 { UInt64(max(5, min(100, config.heartbeatInterval / 5))) * 1_000_000 }

    /// Bytes read since memory was last given back after which an idle loop gives it back.
    static let trimAfterBytes = 16 << 20
    /// Bytes read after which memory is given back even while requests keep coming.
    static let trimAlwaysAfterBytes = 1 << 30

    /// Gives the allocator's free memory back to the system after a burst (glibc keeps freed memory in its arenas,
    /// libzmq's I/O threads' included, and a burst of large messages would otherwise leave the broker's RSS near
    /// its peak): once the loop is idle (a poll that waited its whole timeout, at most a heartbeat interval, with
    /// nothing to read) after `trimAfterBytes` were read or its resident set grew by as much since it last did (a
    /// small body can take many times its size once decoded), or at once after `trimAlwaysAfterBytes` were read.
    func giveBackMemory(idle: Bool) {
        defer { lastPassRead = !idle }
        guard bytesSinceTrim >= Self.trimAlwaysAfterBytes || (idle && bytesSinceTrim >= Self.trimAfterBytes) else {
            // Idle after few bytes: only a grown resident set is worth a trim, read from `/proc` once as the loop
            // goes idle after work, not at every poll that waits out a timer.
            guard idle, lastPassRead, let resident = ProcessMemory.resident()?.current,
                resident >= residentAfterTrim + Self.trimAfterBytes
            else { return }
            return trim(before: resident)
        }
        trim(before: ProcessMemory.resident()?.current ?? 0)
    }

    private func trim(before: Int) {
        let read = bytesSinceTrim
        bytesSinceTrim = 0
        let started = WallClock.monotonicNanos()
        ProcessMemory.giveBack()
        residentAfterTrim = ProcessMemory.resident()?.current ?? 0
        logger.debug(
            "memory given back after a burst",
            [
                "read.mb": "\(read >> 20)", "rss.before.mb": "\(before >> 20)",
                "rss.after.mb": "\(residentAfterTrim >> 20)",
                "took.ms": "\((WallClock.monotonicNanos() - started) / 1_000_000)",
            ])
    }
}
