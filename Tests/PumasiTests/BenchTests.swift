import Foundation
import Testing

/// The steady-path benchmark, run as the built executable at a small size: its figures are not checked (speed lives
/// in the benchmark, never in tests), only that each configuration drives every job to its score and reports it.
@Suite("The steady-path benchmark (pumasi-bench)", .timeLimit(.minutes(2)))
struct BenchTests {
    @Test func everySubmissionWithItsOwnClientIdIsScoredAndReported() throws {
        let run = try CLIProcess("pumasi-bench", ["300", "30", "1", "full,full-ids", "50"])
        let result = run.finish(within: 100)
        #expect(result.termination == .exit(0), "\(result)")
        let figures = CrowdTests.results(result.stdout)
        // The driver counts a job done when its score is announced: a client id used twice would be answered with the
        // first submission's receipt, and its run would never finish.
        for (name, jobs) in [("pipelined", "300"), ("serial", "30"), ("pipelined-ids", "300"), ("serial-ids", "30")] {
            let figure = try #require(figures[name], "\(result)")
            #expect(figure["jobs"] == jobs, "\(name)")
            #expect(Double(figure["jobs_per_s"] ?? "") ?? 0 > 0, "\(name)")
        }
    }
}
