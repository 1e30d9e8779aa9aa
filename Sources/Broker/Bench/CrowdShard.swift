import Foundation
import Glibc
import PumasiShared

/// Relays simulated by another `pumasi-bench` process (`pumasi-bench crowd-relays …`), for a crowd larger than one
/// process's open files allow (two per simulated client). The shard reads its keys from a file, connects its
/// relays, and writes `<relay> <monotonic nanoseconds>` on stdout for each `challenge.opened` one receives; it stops
/// when its stdin closes (the parent ended or let it go), or after an hour at most. Stopped by its pid otherwise.
final class CrowdShard {
    let process = Process()
    let count: Int
    private let input = Pipe()
    private let output = Pipe()

    /// Starts a shard of `keys.count` relays; its reports come on `reportFD` (non-blocking).
    init(keys: [CurveKeyPair], server: String, pub: String, config: CrowdConfig, directory: String, number: Int) throws
    {
        count = keys.count
        let file = (directory as NSString).appendingPathComponent("relays-\(number).keys")
        let text = keys.map { "\($0.publicKey) \($0.secretKey)" }.joined(separator: "\n")
        try Data(text.utf8).write(to: URL(fileURLWithPath: file))
        process.executableURL = URL(fileURLWithPath: Crowd.executable())
        process.arguments = ["crowd-relays", pub, server, config.topic, String(config.ioThreads), file]
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        let fd = output.fileHandleForReading.fileDescriptor
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
    }

    var reportFD: Int32 { output.fileHandleForReading.fileDescriptor }

    /// Closes its stdin and waits up to 10 s for it to end; kills it by pid if it has not.
    func stop() {
        try? input.fileHandleForWriting.close()
        let limit = WallClock.monotonicNanos() + 10_000_000_000
        while process.isRunning && WallClock.monotonicNanos() < limit { usleep(10_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    /// The shard's side: `pumasi-bench crowd-relays <pub> <server key> <topic> <io threads> <keys file>`.
    static func main(_ arguments: [String]) -> Int32 {
        guard arguments.count == 5, let ioThreads = Int(arguments[3]),
            let text = try? String(contentsOfFile: arguments[4], encoding: .utf8)
        else {
            FileHandle.standardError.write(
                Data("Usage: pumasi-bench crowd-relays <pub> <server key> <topic> <io threads> <keys file>\n".utf8))
            return 64
        }
        let pairs = text.split(separator: "\n").compactMap { line -> CurveKeyPair? in
            let parts = line.split(separator: " ")
            return parts.count == 2 ? CurveKeyPair(publicKey: String(parts[0]), secretKey: String(parts[1])) : nil
        }
        do {
            _ = Crowd.raiseFileLimit(wanted: 2 * pairs.count + 1_024)
            var config = try CrowdConfig(arguments: [])
            config.relays = pairs.count
            config.ioThreads = ioThreads
            let fleet = try CrowdFleet(config: config)
            var report: [UInt8] = []
            fleet.onOpened = { index, at in report += Array("\(index) \(at)\n".utf8) }
            // 200 at a time, as the first process connects its own (the broker's listen queue is finite).
            for batch in stride(from: 0, to: pairs.count, by: 200) {
                for pair in pairs[batch..<min(pairs.count, batch + 200)] {
                    try fleet.add(
                        .relay, curve: CurveClient(serverKey: arguments[1], keys: pair), endpoint: arguments[0],
                        topic: arguments[2])
                }
                try fleet.pump(seconds: 0.02, until: { false })
            }
            var stdin = pollfd(fd: 0, events: Int16(POLLIN), revents: 0)
            var closed = false
            try fleet.pump(
                seconds: 3_600,
                tick: {
                    if !report.isEmpty {
                        FileHandle.standardOutput.write(Data(report))
                        report.removeAll(keepingCapacity: true)
                    }
                    if poll(&stdin, 1, 0) > 0 {
                        var byte: UInt8 = 0
                        closed = read(0, &byte, 1) <= 0
                    }
                }, until: { closed })
            return 0
        } catch {
            FileHandle.standardError.write(Data("Error: \(error)\n".utf8))
            return 1
        }
    }
}
