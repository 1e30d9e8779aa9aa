import Foundation
import PumasiShared

/// The `pumasi-broker` process the crowd talks to: the built executable beside this one, with CURVE on, on a data
/// directory of its own, so that its memory is its own and a restart is a real one (SIGTERM, then the same
/// directory and the same ports again). Stopped by its pid only, also when the scenario fails (`deinit`).
final class CrowdBroker {
    let directory: String
    let executable: String
    private let heartbeatMs: Int
    private let ioThreads: Int
    private(set) var process: Process?
    /// Its endpoints, as its first start bound them (`tcp://127.0.0.1:*`); later starts bind the same ports.
    private(set) var router = "tcp://127.0.0.1:*"
    private(set) var pub = "tcp://127.0.0.1:*"

    init(directory: String, heartbeatMs: Int, ioThreads: Int = 1) throws(CrowdError) {
        self.ioThreads = ioThreads
        self.directory = directory
        self.heartbeatMs = heartbeatMs
        executable = Crowd.executable("pumasi-broker")
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw CrowdError.failed("no pumasi-broker beside pumasi-bench (\(executable)); build both products")
        }
    }

    deinit {
        if let process, process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    var pid: Int32? { process?.processIdentifier }

    /// Starts the broker and waits until it has written its `broker.json` (it serves from then on).
    /// - Returns: seconds from the start of the process until then.
    @discardableResult
    func start() throws(CrowdError) -> Double {
        let info = (directory as NSString).appendingPathComponent("broker.json")
        try? FileManager.default.removeItem(atPath: info)
        let log = (directory as NSString).appendingPathComponent("broker.log")
        if !FileManager.default.fileExists(atPath: log) {
            _ = FileManager.default.createFile(atPath: log, contents: nil)
        }
        guard let output = FileHandle(forWritingAtPath: log) else { throw CrowdError.failed("cannot write \(log)") }
        defer { try? output.close() }
        output.seekToEndOfFile()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = [
            "--data-dir", directory, "--router", router, "--pub", pub, "--heartbeat-ms", String(heartbeatMs),
            "--log-level", "warning", "--io-threads", String(ioThreads),
        ]
        process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("PUMASI_") }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = output
        process.standardError = output
        let started = WallClock.monotonicNanos()
        do { try process.run() } catch { throw CrowdError.failed("cannot start \(executable): \(error)") }
        self.process = process
        let limit = started + 120 * 1_000_000_000
        while WallClock.monotonicNanos() < limit {
            if let data = FileManager.default.contents(atPath: info),
                let fields = try? JSONDecoder().decode([String: String].self, from: data),
                fields["pid"] == String(process.processIdentifier), let router = fields["router"],
                let pub = fields["pub"]
            {
                self.router = router
                self.pub = pub
                return Double(WallClock.monotonicNanos() - started) / 1e9
            }
            guard process.isRunning else {
                throw CrowdError.failed("pumasi-broker exited (\(process.terminationStatus)): \(tail(of: log))")
            }
            usleep(5_000)
        }
        throw CrowdError.failed("pumasi-broker did not write broker.json within 120 s: \(tail(of: log))")
    }

    /// SIGTERM to its pid; SIGKILL if it has not exited within 60 s. - Returns: seconds until it exited.
    @discardableResult
    func stop() -> Double {
        guard let process else { return 0 }
        self.process = nil
        let started = WallClock.monotonicNanos()
        kill(process.processIdentifier, SIGTERM)
        let limit = started + 60 * 1_000_000_000
        while process.isRunning && WallClock.monotonicNanos() < limit { usleep(5_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        return Double(WallClock.monotonicNanos() - started) / 1e9
    }

    /// Resident and peak resident memory in KiB (`VmRSS`, `VmHWM` of `/proc/<pid>/status`); zeros when not running.
    func memory() -> (rss: Int, peak: Int) {
        guard let pid, let memory = ProcessMemory.resident(pid: pid) else { return (0, 0) }
        return (memory.current >> 10, memory.peak >> 10)
    }

    /// CPU seconds the broker process has used so far.
    func cpuSeconds() -> Double { pid.map { CPUTime.ticks("/proc/\($0)/stat") } ?? 0 }

    /// The last lines of the broker's log, for an error message.
    func logTail() -> String { tail(of: (directory as NSString).appendingPathComponent("broker.log")) }

    private func tail(of path: String) -> String {
        let text = String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self)
        return text.split(separator: "\n").suffix(5).joined(separator: "\n")
    }
}
