import Foundation
import PumasiShared

/// One submission as ranking sees it.
struct RankingCandidate {
    var submission: String
    var solver: String
    /// Who competes with it: the solver, or `team:<id>` (see `Entrant`).
    var entrant: String
    var receivedAt: Millis
    /// Arrival order, for ties at equal times.
    var order: Int64
    /// The main score and the named metrics of a scored submission; nil while pending or after a failure.
    var score: Double?
    var metrics: [String: Double]
    var disqualified: Bool
    var selected: Bool
}

/// Which leaderboard: the provisional one on the public split, shown while a challenge is open, or the final
/// one on the private split, revealed once it closes.
enum LeaderboardView: String {
    case provisional, final

    var split: String { self == .final ? "private" : "public" }
}

/// Computes leaderboards and winners from a challenge's submissions, by its ranking spec and submission rules.
///
/// - A submission's value is the ranking metric on the view's split (`public.<metric>` or `private.<metric>`),
///   or the metric itself when the scorer gave no split; the metric `score` is the scorer's main score.
/// - Values are compared at the challenge's stated precision: equal there is a tie, won by the earlier
///   submission. Disqualified submissions never rank.
/// - With `replace`, only a solver's latest scored submission counts. On the final view with a final
///   selection of N, only the submissions a solver selected count; a solver who selected none has their N best
///   on the public split counted, as Kaggle does.
/// - Each solver ranks by their best counting submission; solvers without one are listed last, unranked (unless
///   all their submissions were disqualified).
struct Ranking {
    let record: ChallengeRecord
    let candidates: [RankingCandidate]
    /// The teams among the entrants, by entrant key: their names and members.
    var teams: [String: (name: String, members: [String])] = [:]

    func value(_ candidate: RankingCandidate, on view: LeaderboardView) -> Double? {
        guard let score = candidate.score else { return nil }
        let metric = record.rankingMetric
        if let split = candidate.metrics["\(view.split).\(metric)"] { return rounded(split) }
        if metric == "score" { return rounded(score) }
        return candidate.metrics[metric].map(rounded)
    }

    func rounded(_ value: Double) -> Double {
        guard value.isFinite else { return value }
        let scale = pow(10, Double(max(0, min(record.precision, 12))))
        return (value * scale).rounded() / scale
    }

    /// Whether `a` ranks ahead of `b` on `view` (both valued).
    private func ahead(_ a: (RankingCandidate, Double), _ b: (RankingCandidate, Double)) -> Bool {
        if a.1 != b.1 { return record.direction.isBetter(a.1, than: b.1) }
        if a.0.receivedAt != b.0.receivedAt { return a.0.receivedAt < b.0.receivedAt }
        return a.0.order < b.0.order
    }

    /// The submissions that count for each entrant on `view`, valued, best first.
    func counting(on view: LeaderboardView) -> [String: [(RankingCandidate, Double)]] {
        var bySolver: [String: [RankingCandidate]] = [:]
        for candidate in candidates where !candidate.disqualified && candidate.score != nil {
            bySolver[candidate.entrant, default: []].append(candidate)
        }
        var result: [String: [(RankingCandidate, Double)]] = [:]
        for (solver, all) in bySolver {
            var pool = all
            if record.rules.mode == .replace, let latest = pool.max(by: { $0.order < $1.order }) { pool = [latest] }
            if view == .final, let limit = record.rules.finalSelection {
                let chosen = pool.filter(\.selected)
                if !chosen.isEmpty {
                    pool = chosen
                } else {
                    let byPublic = pool.compactMap { c in value(c, on: .provisional).map { (c, $0) } }.sorted(by: ahead)
                    pool = byPublic.prefix(limit).map(\.0)
                }
            }
            let valued = pool.compactMap { c in value(c, on: view).map { (c, $0) } }.sorted(by: ahead)
            if !valued.isEmpty { result[solver] = valued }
        }
        return result
    }

    /// Every solver's best counting submission, ranked; solvers with none listed after, unranked (score nil).
    func leaderboard(on view: LeaderboardView) -> [LeaderboardEntry] {
        let best = counting(on: view).compactMapValues(\.first).values.sorted(by: ahead)
        var entriesBySolver: [String: Int] = [:]
        var firstSeen: [String: RankingCandidate] = [:]
        for candidate in candidates {
            entriesBySolver[candidate.entrant, default: 0] += 1
            if firstSeen[candidate.entrant] == nil, !candidate.disqualified { firstSeen[candidate.entrant] = candidate }
        }
        var entries = best.enumerated().map { index, pair in
            entry(
                LeaderboardEntry(
                    rank: index + 1, solver: pair.0.solver, submission: pair.0.submission, score: pair.1,
                    submittedAt: pair.0.receivedAt, entries: entriesBySolver[pair.0.entrant] ?? 1,
                    metrics: visibleMetrics(pair.0, on: view)), of: pair.0.entrant)
        }
        let ranked = Set(best.map(\.0.entrant))
        for candidate in firstSeen.values.sorted(by: { $0.order < $1.order }) where !ranked.contains(candidate.entrant)
        {
            entries.append(
                entry(
                    LeaderboardEntry(
                        rank: nil, solver: candidate.solver, submission: candidate.submission, score: nil,
                        submittedAt: candidate.receivedAt, entries: entriesBySolver[candidate.entrant] ?? 1),
                    of: candidate.entrant))
        }
        return entries
    }

    /// A team's entry names the team and its members where a solver's names the solver.
    private func entry(_ entry: LeaderboardEntry, of entrant: String) -> LeaderboardEntry {
        guard let team = teams[entrant] else { return entry }
        var entry = entry
        entry.solver = team.name
        entry.team = team.name
        entry.members = team.members
        return entry
    }

    /// The metrics a view may show: never the private split on the provisional view.
    func visibleMetrics(_ candidate: RankingCandidate, on view: LeaderboardView) -> [String: Double]? {
        let shown = view == .final ? candidate.metrics : candidate.metrics.filter { !$0.key.hasPrefix("private.") }
        return shown.isEmpty ? nil : shown
    }

    /// The final ranking's winners in order: (submission, value), one per solver.
    func finalStandings() -> [(candidate: RankingCandidate, value: Double)] {
        counting(on: .final).compactMapValues(\.first).values.sorted(by: ahead).map { ($0.0, $0.1) }
    }

    /// Whether `value` meets `bar` in the challenge's direction.
    func meets(_ value: Double, _ bar: Double) -> Bool { record.direction == .maximize ? value >= bar : value <= bar }
}
