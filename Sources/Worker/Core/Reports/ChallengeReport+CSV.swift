import Foundation
import PumasiShared

extension ChallengeReport {
    /// The leaderboard as RFC 4180 CSV, in `standings` order.
    ///
    /// Columns: `rank,solver,submission,score,submitted_at,entries`, then `metric:<name>` for each extra metric
    /// (sorted by name). Scores and metrics carry `decimals` decimals; times are ISO 8601 UTC to the millisecond;
    /// an entry without a score has an empty rank and score. Text is guarded against formula injection.
    ///
    /// Two columns appear only when they have something to say, so that other challenges' CSV stays as it was:
    /// for a challenge in phases, a first column `phase` (1, 2, …) and the rows of every opened phase's
    /// leaderboard in turn; when some entrant is a team, a `members` column after `solver`, its members joined
    /// by `;` (empty for a solver alone).
    public func leaderboardCSV() -> String {
        let metrics = leaderboardMetricNames
        let teams = hasTeams
        let boards: [(phase: Int?, entries: [LeaderboardEntry])] =
            phases.map { $0.map { ($0.number, $0.standings) } } ?? [(nil, standings)]
        var csv = CSVWriter(
            header: (phases == nil ? [] : ["phase"]) + ["rank", "solver"] + (teams ? ["members"] : [])
                + ["submission", "score", "submitted_at", "entries"] + metrics.map { "metric:" + $0 })
        for (phase, entries) in boards {
            for entry in entries {
                csv.row(
                    (phase.map { [String($0)] } ?? [])
                        + [
                            entry.score == nil ? "" : entry.rank.map(String.init) ?? "",
                            CSVWriter.guarded(entry.solver),
                        ]
                        + (teams ? [CSVWriter.guarded((entry.members ?? []).joined(separator: ";"))] : [])
                        + [
                            CSVWriter.guarded(entry.submission), numberField(entry.score),
                            ReportText.time(entry.submittedAt), String(entry.entries),
                        ] + metricFields(entry.metrics, metrics))
            }
        }
        return csv.text
    }

    /// Every submission as RFC 4180 CSV, in the report's order.
    ///
    /// Columns: `submission,solver,received_at,state,score,error,filename,size,sha256,scored_at`, then
    /// `metric:<name>` for each metric any submission has (sorted by name). Empty fields mean "none".
    public func submissionsCSV() -> String {
        let metrics = submissionMetricNames
        var csv = CSVWriter(
            header: [
                "submission", "solver", "received_at", "state", "score", "error", "filename", "size", "sha256",
                "scored_at",
            ] + metrics.map { "metric:" + $0 })
        for item in submissions {
            csv.row(
                [
                    CSVWriter.guarded(item.submission), CSVWriter.guarded(item.solver),
                    ReportText.time(item.receivedAt), item.state.rawValue, numberField(item.score),
                    CSVWriter.guarded(item.error ?? ""), CSVWriter.guarded(item.filename), String(item.size),
                    CSVWriter.guarded(item.sha256), item.scoredAt.map(ReportText.time) ?? "",
                ] + metricFields(item.metrics, metrics))
        }
        return csv.text
    }

    /// One field per named metric, or empty where a submission lacks it.
    private func metricFields(_ values: [String: Double]?, _ names: [String]) -> [String] {
        names.map { numberField(values?[$0]) }
    }

    /// A score or metric with the report's decimals, or empty. A finite number stays a number, minus sign and
    /// all; a non-finite one is guarded, since `-inf` would start a formula.
    private func numberField(_ value: Double?) -> String {
        guard let value else { return "" }
        let text = ReportText.number(value, decimals: decimals)
        return value.isFinite ? text : CSVWriter.guarded(text)
    }
}
