import Foundation
import PumasiShared
import Synchronization

/// Keeps a `pumasi site` directory up to date for a relay (`pumasi relay --site DIR`): writes the whole site when
/// it starts, then, for each announcement, the page of its challenge and the index, at most once a second per
/// challenge (`SiteSchedule`).
///
/// The relay's loop only calls `announced(_:)`, which records the challenge under a lock and wakes the keeper's own
/// thread: the broker requests and the file writes happen there, off the relay's path.
///
/// Thread rule: `announced(_:)` from any thread; `start()` and `stop()` from the owner's. The keeper's
/// `BrokerClient` (and so its ZeroMQ sockets) lives and dies on the keeper's thread.
final class SiteKeeper: Sendable {
    private let directory: String
    private let endpoint: String
    private let timeoutSeconds: Double
    private let curve: CurveClient?
    private let logger: Logger
    private let state: Mutex<(schedule: SiteSchedule, stopping: Bool)>
    private let wake = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)

    init(
        directory: String, endpoint: String, timeoutSeconds: Double, curve: CurveClient?, logger: Logger,
        interval: Millis = 1_000
    ) {
        self.directory = directory
        self.endpoint = endpoint
        self.timeoutSeconds = timeoutSeconds
        self.curve = curve
        self.logger = logger
        state = Mutex((SiteSchedule(interval: interval), false))
    }

    /// Starts the keeper's thread, which writes the whole site first.
    func start() {
        let thread = Thread { [self] in
            nameCurrentThread("pumasi-site")
            loop()
            finished.signal()
        }
        thread.start()
    }

    /// An announcement for `challenge` arrived: its page and the index are rewritten soon.
    func announced(_ challenge: String) {
        state.withLock { $0.schedule.announced(challenge, now: WallClock.now()) }
        wake.signal()
    }

    /// Stops the keeper's thread after the write in progress, waiting for it at most `seconds`.
    func stop(seconds: Double = 10) {
        state.withLock { $0.stopping = true }
        wake.signal()
        _ = finished.wait(timeout: .now() + seconds)
    }

    private func loop() {
        guard let client = try? BrokerClient(endpoint: endpoint, timeoutSeconds: timeoutSeconds, curve: curve) else {
            logger.error("site: cannot create a broker client", ["site.dir": directory])
            return
        }
        let writer = SiteWriter(directory: directory, client: client)
        while true {
            do {
                try writeAll(writer)
                break
            } catch {
                guard sleep(untilDue: WallClock.now() + 5_000) else { return }
            }
        }
        while true {
            let nextDue = state.withLock { $0.stopping ? nil : ($0.schedule.nextDue ?? .max) }
            guard let nextDue, sleep(untilDue: nextDue) else { return }
            let now = WallClock.now()
            let challenges = state.withLock { $0.schedule.take(now: now) }
            guard !challenges.isEmpty else { continue }
            do {
                let written = try writer.write(challenges: challenges)
                logger.debug(
                    "site updated",
                    ["site.challenges": challenges.joined(separator: ","), "site.files": "\(written.count)"])
            } catch {
                logger.warning(
                    "site update failed; retrying",
                    ["site.challenges": challenges.joined(separator: ","), "error": "\(error)"])
                state.withLock { $0.schedule.failed(challenges, now: WallClock.now()) }
            }
        }
    }

    private func writeAll(_ writer: SiteWriter) throws {
        do {
            let written = try writer.writeAll()
            logger.info("site written", ["site.dir": directory, "site.files": "\(written.count)"])
        } catch {
            logger.warning("site not written; retrying", ["site.dir": directory, "error": "\(error)"])
            throw error
        }
    }

    /// Waits until `due` (or a wake-up, or a stop), in steps of at most a second.
    /// - Returns: false when the keeper is stopping.
    private func sleep(untilDue due: Millis) -> Bool {
        while true {
            if state.withLock({ $0.stopping }) { return false }
            let now = WallClock.now()
            if now >= due { return true }
            if wake.wait(timeout: .now() + .milliseconds(Int(min(due - now, 1_000)))) == .success { return true }
        }
    }
}
