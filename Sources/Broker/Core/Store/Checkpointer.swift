import Foundation
import PumasiShared

/// Copies the WAL back into the database file on its own thread and connection, so that the broker's loop
/// never pays for a checkpoint inside a commit (SQLite's automatic checkpoint would, every 1,000 pages:
/// a stall of milliseconds in the middle of the latency path).
///
/// It checkpoints when the writer's commits have put `pageThreshold` pages in the WAL (`WALProgress`, fed
/// by SQLite's WAL hook), or at least every `idleInterval` while anything is in it: under load the WAL stays
/// small, and a quiet broker is not disturbed every fraction of a second (a checkpoint competes with the
/// latency path for the CPU and the disk).
///
/// Thread rule: `start` and `stop` from the owner's thread; the checkpoint connection lives on its own thread.
final class Checkpointer: @unchecked Sendable {
    // @unchecked Sendable: `stopping` is only touched under `condition`'s lock.
    private let path: String
    private let progress: WALProgress
    private let pageThreshold: Int
    private let idleInterval: TimeInterval
    private let condition = NSCondition()
    private var stopping = false
    private let finished = DispatchSemaphore(value: 0)

    init(path: String, progress: WALProgress, pageThreshold: Int = 1_000, idleInterval: TimeInterval = 5) {
        self.path = path
        self.progress = progress
        self.pageThreshold = pageThreshold
        self.idleInterval = idleInterval
        let thread = Thread { [self] in
            nameCurrentThread("pumasi-checkpnt")
            loop()
        }
        thread.start()
    }

    private func loop() {
        defer { finished.signal() }
        guard let db = try? SQLiteConnection(path: path) else { return }
        var last = Date()
        while true {
            condition.lock()
            if !stopping { _ = condition.wait(until: Date(timeIntervalSinceNow: 0.05)) }
            let done = stopping
            condition.unlock()
            let pages = progress.pages
            guard done || pages >= pageThreshold || (pages > 0 && Date().timeIntervalSince(last) >= idleInterval)
            else { continue }
            // PASSIVE: copies what no reader still needs, never waits for the writer. What it could not copy is
            // reported again by the next commit.
            progress.reset()
            _ = try? db.query("PRAGMA wal_checkpoint(PASSIVE)")
            last = Date()
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
