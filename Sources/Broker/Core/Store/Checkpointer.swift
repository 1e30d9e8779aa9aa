import Foundation
import PumasiShared

/// Copies the WAL back into the database file on its own thread and connection, so that the broker's loop
/// never pays for a checkpoint inside a commit (SQLite's automatic checkpoint would, every 1,000 pages:
/// a stall of milliseconds in the middle of the latency path).
///
/// Thread rule: `start` and `stop` from the owner's thread; the checkpoint connection lives on its own thread.
final class Checkpointer: @unchecked Sendable {
    // @unchecked Sendable: `stopping` is only touched under `condition`'s lock.
    private let path: String
    private let interval: TimeInterval
    private let condition = NSCondition()
    private var stopping = false
    private let finished = DispatchSemaphore(value: 0)

    init(path: String, interval: TimeInterval = 0.5) {
        self.path = path
        self.interval = interval
        let thread = Thread { [self] in loop() }
        thread.name = "pumasi-checkpoint"
        thread.start()
    }

    private func loop() {
        defer { finished.signal() }
        guard let db = try? SQLiteConnection(path: path) else { return }
        while true {
            condition.lock()
            if !stopping { _ = condition.wait(until: Date(timeIntervalSinceNow: interval)) }
            let done = stopping
            condition.unlock()
            // PASSIVE: copies what no reader still needs, never waits for the writer.
            _ = try? db.query("PRAGMA wal_checkpoint(PASSIVE)")
            if done { return }
        }
    }

    /// Runs a last checkpoint and waits for the thread to end.
    func stop() {
        condition.lock()
        stopping = true
        condition.signal()
        condition.unlock()
        finished.wait()
    }
}
