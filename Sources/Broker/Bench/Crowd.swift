import Foundation
import Glibc
import PumasiShared

/// `pumasi-bench crowd`: a crowd at the deadline, on this machine over loopback, all with CURVE on and every key
/// registered. A real `pumasi-broker` process serves relays subscribed to announcements, evaluators connected as
/// MDP workers, and solvers who submit in a surge across a challenge's deadline; the scenario prints one RESULT
/// line per measured thing (`docs/performance.md`, "A crowd at the deadline"). Every phase is bounded in time, and
/// the broker is stopped by its pid on every path.
enum Crowd {
    static func main(_ arguments: some Collection<String>) -> Int32 {
        let config: CrowdConfig
        do {
            config = try CrowdConfig(arguments: arguments)
        } catch {
            FileHandle.standardError.write(Data("Error: \(error)\n".utf8))
            return 64
        }
        let directory = NSTemporaryDirectory() + "pumasi-crowd-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let run = try CrowdRun(config: config, directory: directory)
            defer {
                run.stopShards()
                run.broker.stop()
            }
            try run.all()
            return 0
        } catch {
            FileHandle.standardError.write(Data("Error: \(error)\n".utf8))
            return 1
        }
    }

    /// Raises this process's open-file limit for the crowd's sockets (two descriptors each: the connection and the
    /// socket's mailbox); the broker inherits it. - Returns: the limit now in force.
    static func raiseFileLimit(wanted: Int) -> Int { Int(FileDescriptorLimit.raise(to: UInt64(max(0, wanted)))) }

    /// An executable built beside this one (`pumasi-broker`), or this one itself.
    static func executable(_ name: String? = nil) -> String {
        let me =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        guard let name else { return me }
        return ((me as NSString).deletingLastPathComponent as NSString).appendingPathComponent(name)
    }

    /// The `p`th quantile of sorted values (nearest rank), 0 when there are none.
    static func quantile(_ sorted: [Double], _ p: Double) -> Double {
        sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
    }

    static func milliseconds(_ from: UInt64, _ to: UInt64) -> Double { Double(Int64(to) - Int64(from)) / 1e6 }

    /// A line on stdout, written at once (a long run shows its figures as they come, also through a pipe).
    static func line(_ text: String) {
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }

    /// One `RESULT name=crowd-… key=value …` line.
    static func result(_ name: String, _ fields: KeyValuePairs<String, Any>) {
        let text = fields.map { key, value in
            if let number = value as? Double { return "\(key)=" + String(format: "%.3f", number) }
            return "\(key)=\(value)"
        }
        line((["RESULT name=crowd-\(name)"] + text).joined(separator: " "))
    }
}

extension Crowd {
    /// The kernel's count of connections dropped because a listen queue was full (`TcpExt: ListenOverflows` of
    /// `/proc/net/netstat`): a crowd connecting at once overflows a listener's backlog, and each dropped SYN
    /// costs its client a retransmission a second or more later. The count is the network namespace's, so other
    /// listeners on the machine add to it.
    static func listenOverflows() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/net/netstat", encoding: .utf8) else { return 0 }
        let lines = text.split(separator: "\n").filter { $0.hasPrefix("TcpExt:") }
        guard lines.count >= 2 else { return 0 }
        let names = lines[0].split(separator: " ")
        let values = lines[1].split(separator: " ")
        guard let index = names.firstIndex(of: "ListenOverflows"), index < values.count else { return 0 }
        return Int(values[index]) ?? 0
    }
}
