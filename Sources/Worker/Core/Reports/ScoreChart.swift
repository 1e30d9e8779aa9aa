import Foundation
import PumasiShared

/// The HTML report's chart: the best score so far over time as a step line (x = when a submission arrived,
/// y = the best score up to then in the challenge's direction), each scored submission a dot, with axes, tick
/// labels and a title. An inline SVG with presentation attributes, so it needs no stylesheet.
struct ScoreChart {
    struct Point: Equatable {
        var time: Millis
        var score: Double
        /// The solver, for a dot's tooltip; empty for the step line's corners.
        var solver = ""
    }

    /// Scored submissions with a finite score, by arrival (equal times keep the report's order).
    let submissions: [Point]
    /// The step line's vertices: the first score, then for each improvement a corner at the old best and the
    /// new best at the same time, then the last best carried to the last submission's time.
    let steps: [Point]
    let x: ChartAxis
    let y: ChartAxis
    let metric: String
    let direction: Direction
    /// Decimals for the scores in the dots' tooltips.
    let decimals: Int

    static let width = 760.0
    static let height = 360.0

    init(report: ChallengeReport) {
        // In phases, the phase the report's leaderboard is of (the current one, or the last): scores of different
        // phases are on different data, and one line through them would mean nothing.
        let phase = report.challenge.phase
        submissions = report.submissions.enumerated()
            .compactMap { offset, item -> (Int, Point)? in
                guard let score = item.score, score.isFinite, phase == nil || item.phase == phase else { return nil }
                return (offset, Point(time: item.receivedAt, score: score, solver: item.solver))
            }
            .sorted { ($0.1.time, $0.0) < ($1.1.time, $1.0) }
            .map(\.1)
        direction = report.challenge.direction
        steps = Self.bestSoFar(submissions, direction: direction)
        metric = report.metric.isEmpty ? "score" : report.metric
        decimals = report.decimals
        x = ChartAxis.times(submissions.map(\.time))
        y = ChartAxis.scores(submissions.map(\.score))
    }

    /// The step line through `points` (in time order): a vertex wherever the best so far changes.
    static func bestSoFar(_ points: [Point], direction: Direction) -> [Point] {
        guard let first = points.first else { return [] }
        var best = first.score
        var vertices = [Point(time: first.time, score: best)]
        for point in points.dropFirst() where direction.isBetter(point.score, than: best) {
            vertices.append(Point(time: point.time, score: best))
            vertices.append(Point(time: point.time, score: point.score))
            best = point.score
        }
        if let last = points.last, let end = vertices.last, end.time < last.time {
            vertices.append(Point(time: last.time, score: best))
        }
        return vertices
    }

    var title: String { "Best \(metric) so far (\(direction == .maximize ? "higher" : "lower") is better)" }
}
