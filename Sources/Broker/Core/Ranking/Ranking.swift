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
    /// No outcome yet under the challenge's scorer version, or one that failed: what a leaderboard counts as
    /// pending and failed.
    var awaitsOutcome = false
    var failed = false
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
        value(candidate, splitMetric: "\(view.split).\(record.rankingMetric)")
    }

    /// `value(_:on:)` with the view's member name (`public.<metric>`) made once, not once per candidate.
    private func value(_ candidate: RankingCandidate, splitMetric: String) -> Double? {
        guard let score = candidate.score else { return nil }
        if let split = candidate.metrics[splitMetric] { return rounded(split) }
        let metric = record.rankingMetric
        if metric == "score" { return rounded(score) }
        return candidate.metrics[metric].map(rounded)
    }

    func rounded(_ value: Double) -> Double {
        guard value.isFinite else { return value }
        let scale = pow(10, Double(max(0, min(record.precision, 12))))
        return (value * scale).rounded() / scale
    }

    /// A candidate by its place in `candidates`, with its value on a view. Ranking moves these, not the candidates:
    /// sorting 60,000 candidates (each with its strings and metrics) by copy took most of a leaderboard's time.
    typealias Valued = (index: Int, value: Double)

    /// Whether `a` ranks ahead of `b` on `view` (both valued).
    private func ahead(_ a: Valued, _ b: Valued) -> Bool {
        if a.value != b.value { return record.direction.isBetter(a.value, than: b.value) }
        let (x, y) = (candidates[a.index].receivedAt, candidates[b.index].receivedAt)
        if x != y { return x < y }
        return candidates[a.index].order < candidates[b.index].order
    }

    /// The submissions that count for each entrant on `view`, valued, best first.
    func counting(on view: LeaderboardView) -> [String: [(RankingCandidate, Double)]] {
        countingPlaces(on: view).mapValues { $0.map { (candidates[$0.index], $0.value) } }
    }

    /// `counting(on:)` by place in `candidates`.
    private func countingPlaces(on view: LeaderboardView) -> [String: [Valued]] {
        var byEntrant: [String: [Int]] = [:]
        for (index, candidate) in candidates.enumerated() where !candidate.disqualified && candidate.score != nil {
            byEntrant[candidate.entrant, default: []].append(index)
        }
        let metric = (view: "\(view.split).\(record.rankingMetric)", public: "public.\(record.rankingMetric)")
        func valued(_ places: [Int], _ splitMetric: String) -> [Valued] {
            places.compactMap { index in value(candidates[index], splitMetric: splitMetric).map { (index, $0) } }
                .sorted(by: ahead)
        }
        var result: [String: [Valued]] = [:]
        for (entrant, all) in byEntrant {
            var pool = all
            if record.rules.mode == .replace, let latest = pool.max(by: { candidates[$0].order < candidates[$1].order })
            {
                pool = [latest]
            }
            if view == .final, let limit = record.rules.finalSelection {
                let chosen = pool.filter { candidates[$0].selected }
                pool = chosen.isEmpty ? valued(pool, metric.public).prefix(limit).map(\.index) : chosen
            }
            let ranked = valued(pool, metric.view)
            if !ranked.isEmpty { result[entrant] = ranked }
        }
        return result
    }

    /// Each entrant's best counting submission on `view`, best first.
    private func standings(on view: LeaderboardView) -> [Valued] {
        countingPlaces(on: view).compactMap(\.value.first).sorted(by: ahead)
    }

    /// Every solver's best counting submission, ranked; solvers with none listed after, unranked (score nil).
    func leaderboard(on view: LeaderboardView) -> [LeaderboardEntry] {
        let best = standings(on: view)
        var entriesBySolver: [String: Int] = [:]
        var firstSeen: [String: Int] = [:]
        for (index, candidate) in candidates.enumerated() {
            entriesBySolver[candidate.entrant, default: 0] += 1
            if firstSeen[candidate.entrant] == nil, !candidate.disqualified { firstSeen[candidate.entrant] = index }
        }
        var entries = best.enumerated().map { rank, pair in
            let candidate = candidates[pair.index]
            return entry(
                LeaderboardEntry(
                    rank: rank + 1, solver: candidate.solver, submission: candidate.submission, score: pair.value,
                    submittedAt: candidate.receivedAt, entries: entriesBySolver[candidate.entrant] ?? 1,
                    metrics: visibleMetrics(candidate, on: view)), of: candidate.entrant)
        }
        let ranked = Set(best.map { candidates[$0.index].entrant })
        let unranked = firstSeen.values.sorted { candidates[$0].order < candidates[$1].order }.map { candidates[$0] }
        for candidate in unranked where !ranked.contains(candidate.entrant) {
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
        standings(on: .final).map { (candidates[$0.index], $0.value) }
    }

    /// Whether `value` meets `bar` in the challenge's direction.
    func meets(_ value: Double, _ bar: Double) -> Bool { record.direction == .maximize ? value >= bar : value <= bar }
}
