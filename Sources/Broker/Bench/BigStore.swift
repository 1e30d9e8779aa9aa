import Foundation
import PumasiBroker
import PumasiShared
import PumasiWorker
import Synchronization

/// `pumasi-bench big-store`: what a long-lived store costs a broker that starts on it. The store is filled through
/// the broker's own methods (`Store.fill`), then a real `pumasi-broker` process (the one built beside the benchmark)
/// starts on it; the figures are the time from starting the process to its first answered request, its RSS then,
/// and its RSS after the largest challenge's leaderboard has been asked for.
enum BigStore {
    struct Options {
        var submissions = 1_000_000
        var pending = 1_000
        var challenges = 20
        var solvers = 10_000
    }

    static func run(_ options: Options, directory: String) throws {
        // PUMASI_BENCH_KEEP=1 keeps the store, to look into it afterwards.
        let keep = ProcessInfo.processInfo.environment["PUMASI_BENCH_KEEP"] == "1"
        defer {
            if keep {
                print("big-store: kept \(directory)")
            } else {
                try? FileManager.default.removeItem(atPath: directory)
            }
        }
        let filled = try Store.fill(
            location: .sqlite(directory: directory), challenges: options.challenges, submissions: options.submissions,
            solvers: options.solvers, pending: options.pending,
            progress: { FileHandle.standardError.write(Data("big-store: \($0) submissions written\n".utf8)) })
        let bytes = (try? FileManager.default.subpathsOfDirectory(atPath: directory))?.reduce(0) {
            $0 + ((try? FileManager.default.attributesOfItem(atPath: directory + "/" + $1)[.size] as? Int) ?? 0)
        }
        print(
            String(
                format: "RESULT name=big-store-fill submissions=%d pending=%d seconds=%.1f store_mb=%.0f",
                options.submissions, options.pending, filled, Double(bytes ?? 0) / 1_048_576))
        // Twice: the first start also pays for the page cache being cold on a store just written (it is not: the fill
        // just wrote it), the second is a restart as an operator makes one.
        for attempt in 1...2 { try start(options, directory: directory, attempt: attempt) }
    }

    private static func start(_ options: Options, directory: String, attempt: Int) throws {
        let endpointsFile = directory + "/broker.json"
        try? FileManager.default.removeItem(atPath: endpointsFile)
        let broker = Process()
        broker.executableURL = URL(fileURLWithPath: Crowd.executable("pumasi-broker"))
        broker.arguments = [
            "--data-dir", directory, "--insecure", "--router", "tcp://127.0.0.1:*", "--pub", "tcp://127.0.0.1:*",
            "--log-level", "warning",
        ]
        let began = WallClock.monotonicNanos()
        try broker.run()
        defer {
            kill(broker.processIdentifier, SIGTERM)
            broker.waitUntilExit()
        }
        func elapsed() -> Double { Double(WallClock.monotonicNanos() - began) / 1e6 }
        // The broker writes broker.json once it has bound its endpoints and rebuilt its memory: then it serves.
        var endpoints: [String: String]?
        while endpoints == nil, elapsed() < 120_000, broker.isRunning {
            endpoints = (try? Data(contentsOf: URL(fileURLWithPath: endpointsFile)))
                .flatMap { try? JSONDecoder().decode([String: String].self, from: $0) }
            if endpoints == nil { usleep(1_000) }
        }
        guard let router = endpoints?["router"] else {
            throw BenchFailure("the broker did not start within 120 s (or exited)")
        }
        let client = try BrokerClient(endpoint: router, timeoutSeconds: 30)
        let (open, _) = try client.call(Service.list, ListRequest(state: .open), as: [ChallengeInfo].self)
        let served = elapsed()
        let rssServing = rss(of: broker.processIdentifier)
        // The leaderboard of the challenge with the most submissions reads all of them.
        let first = open.first?.id ?? ""
        // Meanwhile another client asks who it is, one request after the other: how long the broker leaves it
        // waiting while the board is made (the board is made off the loop: `BoardMaker`).
        let pinger = Pinger(router: router)
        let listed = WallClock.monotonicNanos()
        let (board, _) = try client.call(
            Service.leaderboard, LeaderboardRequest(challenge: first, limit: 10), as: Leaderboard.self)
        let boardMs = Double(WallClock.monotonicNanos() - listed) / 1e6
        let pings = pinger.stop()
        // Asked again at once: a board that took this long is given again (`LeaderboardCache`).
        let again = WallClock.monotonicNanos()
        _ = try client.call(Service.leaderboard, LeaderboardRequest(challenge: first, limit: 10), as: Leaderboard.self)
        let againMs = Double(WallClock.monotonicNanos() - again) / 1e6
        let after = rss(of: broker.processIdentifier)
        // Its report's first page (the leaderboard, the awards and 1,000 submissions) and the whole report, as
        // `pumasi export` reads it (every page of its submissions, the seeker's view).
        let reportPinger = Pinger(router: router)
        var reported = WallClock.monotonicNanos()
        _ = try client.call(Service.report, ReportRequest(challenge: first), as: ChallengeReport.self)
        let firstPageMs = Double(WallClock.monotonicNanos() - reported) / 1e6
        let reportPings = reportPinger.stop()
        reported = WallClock.monotonicNanos()
        let report = try client.report(ReportRequest(challenge: first))
        let reportMs = Double(WallClock.monotonicNanos() - reported) / 1e6
        print(
            String(
                format:
                    "RESULT name=big-store-start attempt=%d submissions=%d pending=%d challenges=%d serving_ms=%.0f "
                    + "rss_mb=%.1f leaderboard_ms=%.0f leaderboard_again_ms=%.1f leaderboard_rows=%d "
                    + "rss_after_leaderboard_mb=%.1f hwm_mb=%.1f "
                    + "report_first_page_ms=%.0f report_ms=%.0f report_submissions=%d "
                    + "other_requests_during_leaderboard=%d their_max_ms=%.1f "
                    + "other_requests_during_report_first_page=%d their_max_ms=%.1f",
                attempt, options.submissions, options.pending, open.count, served, rssServing.rss, boardMs, againMs,
                board.entries.count, after.rss, after.hwm, firstPageMs, reportMs, report.submissions.count,
                pings.count, pings.maxMs, reportPings.count, reportPings.maxMs))
    }

    /// A client on its own thread that asks `pumasi.whoami` one request after the other until stopped, and keeps
    /// the longest round trip.
    private final class Pinger: Sendable {
        private let state = Mutex<(stopping: Bool, count: Int, maxMs: Double)>((false, 0, 0))
        private let finished = DispatchSemaphore(value: 0)

        init(router: String) {
            let ready = DispatchSemaphore(value: 0)
            let thread = Thread { [self] in
                defer { finished.signal() }
                // The connection is made before the measured request goes.
                let client = try? BrokerClient(endpoint: router, timeoutSeconds: 30)
                let connected = (try? client?.call(Service.whoami, Empty(), as: Identity.self)) != nil
                ready.signal()
                guard connected, let client else { return }
                // Bounded: a million round trips, or until stopped.
                for _ in 0..<1_000_000 where !state.withLock({ $0.stopping }) {
                    let began = WallClock.monotonicNanos()
                    guard (try? client.call(Service.whoami, Empty(), as: Identity.self)) != nil else { return }
                    let ms = Double(WallClock.monotonicNanos() - began) / 1e6
                    state.withLock {
                        $0.count += 1
                        $0.maxMs = max($0.maxMs, ms)
                    }
                }
            }
            thread.start()
            ready.wait()
        }

        /// Stops the pings. - Returns: how many were answered, and the longest in milliseconds.
        func stop() -> (count: Int, maxMs: Double) {
            state.withLock { $0.stopping = true }
            finished.wait()
            return state.withLock { ($0.count, $0.maxMs) }
        }
    }

    struct BenchFailure: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    /// The resident set and its peak (VmRSS, VmHWM) of a process, in MiB.
    static func rss(of pid: Int32) -> (rss: Double, hwm: Double) {
        let memory = ProcessMemory.resident(pid: pid) ?? (0, 0)
        return (Double(memory.current) / 1_048_576, Double(memory.peak) / 1_048_576)
    }
}
