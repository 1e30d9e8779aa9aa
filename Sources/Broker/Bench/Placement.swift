internal import CEpoll
import Foundation

/// `PUMASI_BENCH_BROKER_CPU=N`: the broker's loop thread alone on CPU N, and every other thread a configuration's run
/// starts (the evaluators' connections, the driver, every libzmq I/O thread, the broker's checkpointer) on this
/// process's other CPUs: as on a machine whose broker has its clients and evaluators elsewhere. The floors run as
/// without it.
struct Placement {
    let brokerCPU: Int
    let others: [Int]

    /// From the environment: nil if unset; an error if N is not one of this process's CPUs, or is the only one.
    static func fromEnvironment() throws -> Placement? {
        guard let text = ProcessInfo.processInfo.environment["PUMASI_BENCH_BROKER_CPU"], !text.isEmpty else {
            return nil
        }
        let allowed = cpus()
        guard let cpu = Int(text), allowed.contains(cpu) else {
            throw PlacementError("PUMASI_BENCH_BROKER_CPU=\(text) is not one of this process's CPUs \(allowed)")
        }
        guard allowed.count > 1 else {
            throw PlacementError("PUMASI_BENCH_BROKER_CPU needs two CPUs or more; this process may use \(allowed)")
        }
        return Placement(brokerCPU: cpu, others: allowed.filter { $0 != cpu })
    }

    /// Runs `body` with the calling thread, and so every thread it starts meanwhile, on the other CPUs; then puts
    /// the calling thread back on the CPUs it had.
    func withOthers<T>(_ body: () throws -> T) throws -> T {
        let before = Self.cpus()
        try Self.pin(others)
        defer { try? Self.pin(before) }
        return try body()
    }

    /// Bytes of a CPU mask: 1,024 CPUs, as glibc's `cpu_set_t`.
    private static let maskBytes = 128

    /// The CPUs the calling thread may run on.
    static func cpus() -> [Int] {
        var mask = [UInt8](repeating: 0, count: maskBytes)
        guard pumasi_get_thread_cpus(maskBytes, &mask) > 0 else { return [] }
        return (0..<(maskBytes * 8)).filter { mask[$0 / 8] & (1 << ($0 % 8)) != 0 }
    }

    /// Puts the calling thread on `cpus` (threads it starts later inherit them).
    static func pin(_ cpus: [Int]) throws {
        var mask = [UInt8](repeating: 0, count: maskBytes)
        for cpu in cpus where cpu >= 0 && cpu < maskBytes * 8 { mask[cpu / 8] |= 1 << (cpu % 8) }
        guard pumasi_set_thread_cpus(maskBytes, mask) == 0 else {
            throw PlacementError("sched_setaffinity to CPUs \(cpus) failed: \(String(cString: strerror(errno)))")
        }
    }
}

struct PlacementError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
