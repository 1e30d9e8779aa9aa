import Foundation
import PumasiShared

extension CrowdRun {
    /// What a flood run is compared with.
    struct SurgeFigures {
        /// Receipt p99 of every solver but the first (the flooder, in a flood run), in milliseconds.
        var othersP99: Double
    }

    /// A surge: `submissions` from the solvers within `window` seconds, to a challenge whose deadline falls at
    /// `deadlineAt` of the window, so that submissions keep coming after it. Each solver sends its share evenly
    /// spaced from a random start; `flooder` (a flood run) sends `floodFactor` times its share; the first `pollers`
    /// solvers (a poll run) also ask for the challenge's top ten every `pollMs`, from a random start.
    ///
    /// The deadline is checked exactly, with no margin: a submission sent after the deadline was handled after it
    /// and must be refused; one whose reply came before the deadline was handled before it and must be accepted.
    /// Those in flight across it may go either way and are counted apart.
    @discardableResult
    func surge(name: String, flooder: Int?, calm: SurgeFigures? = nil, pollers: Int = 0) throws -> SurgeFigures {
        let startWall = WallClock.now() + 2_000
        let deadline = startWall + Millis(config.window * config.deadlineAt * 1_000)
        let (challenge, _) = try post(deadline: deadline, wait: 10)
        let windowNanos = config.window * 1e9
        var schedule: [(at: UInt64, solver: Int, poll: Bool)] = []
        schedule.reserveCapacity(config.submissions + (flooder == nil ? 0 : config.submissions / 2))
        let share = config.submissions / config.solvers
        for (rank, solver) in fleet.solvers.enumerated() {
            let count =
                (share + (rank < config.submissions % config.solvers ? 1 : 0))
                * (solver == flooder ? config.floodFactor : 1)
            let interval = windowNanos / Double(count)
            let phase = Double.random(in: 0..<interval)
            for n in 0..<count { schedule.append((UInt64(phase + Double(n) * interval), solver, false)) }
        }
        let pollNanos = Double(config.pollMs) * 1e6
        for solver in fleet.solvers.prefix(pollers) {
            let phase = Double.random(in: 0..<pollNanos)
            for n in 0..<Int(windowNanos / pollNanos) {
                schedule.append((UInt64(phase + Double(n) * pollNanos), solver, true))
            }
        }
        schedule.sort { $0.at < $1.at }
        let frames = MDP.clientRequest(
            service: Service.submit,
            body: [
                Wire.encode(SubmitRequest(challenge: challenge, solver: "crowd", filename: "a.txt")), Data("42".utf8),
            ])
        let board = MDP.clientRequest(
            service: Service.leaderboard, body: [Wire.encode(LeaderboardRequest(challenge: challenge, limit: 10))])
        try fleet.pump(seconds: 3, until: { WallClock.now() >= startWall })
        fleet.clearReplies()
        let sendFailures = fleet.sendFailures
        let cpu = (harness: harnessCPU(), broker: broker.cpuSeconds())
        let start = WallClock.monotonicNanos()
        var next = 0
        var sent = 0
        var flooderSent = 0
        var polls = 0
        let finished = try fleet.pump(
            seconds: config.window + 60,
            tick: {
                let now = WallClock.monotonicNanos() - start
                // Bounded: each pass sends what is due, at most the whole schedule once.
                while next < schedule.count && schedule[next].at <= now {
                    let solver = schedule[next].solver
                    if schedule[next].poll {
                        if try fleet.request(solver, .board, board) { polls += 1 }
                    } else if try fleet.request(solver, .submit, frames) {
                        sent += 1
                        if solver == flooder { flooderSent += 1 }
                    }
                    next += 1
                }
            },
            until: {
                next == schedule.count && self.fleet.submitReplies.count >= sent
                    && self.fleet.boardReplies.count >= polls
            })
        let seconds = Double(WallClock.monotonicNanos() - start) / 1e9
        let replies = fleet.submitReplies

        var others: [Double] = []
        var codes: [String: Int] = [:]
        var accepted = 0
        var acceptedAfter = 0
        var refusedBefore = 0
        var straddling = (accepted: 0, refused: 0)
        var flood = (accepted: 0, busy: 0, other: 0)
        for reply in replies {
            if reply.solver != flooder { others.append(Crowd.milliseconds(reply.sentAt, reply.answeredAt)) }
            if let id = reply.submission {
                accepted += 1
                acknowledged[challenge, default: []].insert(id)
                if reply.wallSentAt >= deadline { acceptedAfter += 1 }
            } else if let code = reply.code {
                codes[code, default: 0] += 1
                if code == "closed" && reply.wallAnsweredAt < deadline { refusedBefore += 1 }
            }
            if reply.wallSentAt < deadline && reply.wallAnsweredAt >= deadline {
                if reply.submission != nil { straddling.accepted += 1 } else { straddling.refused += 1 }
            }
            if reply.solver == flooder {
                if reply.submission != nil {
                    flood.accepted += 1
                } else if reply.code == "busy" {
                    flood.busy += 1
                } else {
                    flood.other += 1
                }
            }
        }
        others.sort()
        let figures = SurgeFigures(othersP99: Crowd.quantile(others, 0.99))
        let refusals = codes.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: ",")
        Crowd.result(
            name,
            [
                "submissions": sent, "solvers": config.solvers, "window_s": config.window, "seconds": seconds,
                "accepted": accepted, "refused": replies.count - accepted, "unanswered": sent - replies.count,
                "not_sent": fleet.sendFailures - sendFailures,
                "receipt_p50_ms": Crowd.quantile(others, 0.5), "receipt_p99_ms": figures.othersP99,
                "receipt_max_ms": others.last ?? 0, "refused_closed": codes["closed", default: 0],
                "accepted_after_deadline": acceptedAfter, "refused_before_deadline": refusedBefore,
                "in_flight_at_deadline_accepted": straddling.accepted,
                "in_flight_at_deadline_refused": straddling.refused,
                "refusals": refusals.isEmpty ? "none" : refusals, "finished": finished,
                "jobs_answered": fleet.jobsAnswered, "harness_cpu_s": harnessCPU() - cpu.harness,
                "broker_cpu_s": broker.cpuSeconds() - cpu.broker,
            ])
        if pollers > 0, let calm {
            let boards = fleet.boardReplies.map { $0.seconds * 1_000 }.sorted()
            Crowd.result(
                name + "-fairness",
                [
                    "pollers": pollers, "poll_ms": config.pollMs, "polls": polls, "boards_answered": boards.count,
                    "boards_refused": fleet.boardReplies.filter { $0.asOf == nil }.count,
                    "boards_made": Set(fleet.boardReplies.compactMap(\.asOf)).count,
                    "board_p50_ms": Crowd.quantile(boards, 0.5), "board_p99_ms": Crowd.quantile(boards, 0.99),
                    "board_max_ms": boards.last ?? 0, "others_p99_ms": figures.othersP99,
                    "poll_free_p99_ms": calm.othersP99, "ratio": figures.othersP99 / max(0.001, calm.othersP99),
                ])
        }
        if flooder != nil, let calm {
            Crowd.result(
                name + "-fairness",
                [
                    "factor": config.floodFactor, "flooder_sent": flooderSent, "flooder_accepted": flood.accepted,
                    "flooder_busy": flood.busy, "flooder_refused_other": flood.other,
                    "others_p99_ms": figures.othersP99, "flood_free_p99_ms": calm.othersP99,
                    "ratio": figures.othersP99 / max(0.001, calm.othersP99),
                ])
        }
        return figures
    }
}
