import Foundation
import PumasiShared

/// Progress of a long transfer, on stderr: a bar redrawn in place on a terminal, else a plain line every
/// ten percent (or every five seconds), so that logs of scripts stay readable.
struct ProgressBar {
    let label: String
    private let terminal: Bool
    private var lastShown: UInt64 = 0
    private var lastTenth = -1
    private let started = WallClock.monotonicNanos()
    private(set) var finished = false

    init(label: String, terminal: Bool = isatty(STDERR_FILENO) == 1) {
        self.label = label
        self.terminal = terminal
    }

    /// Shows `done` of `total` bytes, at most ten times a second on a terminal.
    mutating func update(_ done: Int, of total: Int) {
        let now = WallClock.monotonicNanos()
        let fraction = total > 0 ? Double(done) / Double(total) : 1
        if terminal {
            guard done >= total || now - lastShown > 100_000_000 else { return }
            lastShown = now
            let width = 30
            let filled = Int(fraction * Double(width))
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
            FileHandle.standardError.write(
                Data(
                    "\r\(label) [\(bar)] \(Self.percent(fraction)) \(Self.size(done))/\(Self.size(total)) \(rate(done, now))"
                        .utf8))
            if done >= total, !finished {
                finished = true
                FileHandle.standardError.write(Data("\n".utf8))
            }
        } else {
            let tenth = Int(fraction * 10)
            guard tenth > lastTenth || now - lastShown > 5_000_000_000 else { return }
            lastTenth = tenth
            lastShown = now
            FileHandle.standardError.write(
                Data(
                    "\(label): \(Self.size(done)) of \(Self.size(total)) (\(Self.percent(fraction))) \(rate(done, now))\n"
                        .utf8))
        }
    }

    private func rate(_ done: Int, _ now: UInt64) -> String {
        let seconds = Double(now - started) / 1e9
        return seconds > 0 ? "\(Self.size(Int(Double(done) / seconds)))/s" : ""
    }

    static func percent(_ fraction: Double) -> String { "\(Int((fraction * 100).rounded(.down)))%" }

    /// 1.5 MiB, 700 KiB, 12 B.
    static func size(_ bytes: Int) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(bytes) B" : String(format: "%.1f", value) + " " + units[unit]
    }
}
