import Foundation
import PumasiShared
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
        #expect(CrowdTests.lines(result.stdout, kind: "SQL").isEmpty, "statements are printed only when asked for")
    }

    /// `chain`: the network's floors, serial and pipelined, each job through every hop; and `PUMASI_BENCH_SQL=1`: the
    /// statements the store floor and a pipelined run took, counted and timed.
    @Test func theNetworksFloorsRunAndTheStatementsOfAPipelinedRunAreCounted() throws {
        let run = try CLIProcess(
            "pumasi-bench", ["300", "20", "1", "chain,floor,full", "50"], environment: ["PUMASI_BENCH_SQL": "1"])
        let result = run.finish(within: 100)
        #expect(result.termination == .exit(0), "\(result)")
        let figures = CrowdTests.results(result.stdout)
        #expect(figures["chain-floor"]?["jobs"] == "20", "\(result)")
        // The pipelined chain counts a job once its announcement, carrying the job's number, comes back.
        #expect(figures["chain-floor-pipelined"]?["jobs"] == "300", "\(result)")
        var counts: [String: [String: Int]] = [:]
        for line in result.stdout.split(separator: "\n") where line.hasPrefix("SQL ") {
            let parts = line.split(separator: " | ", maxSplits: 1)
            let fields = CrowdTests.lines(String(parts[0]), kind: "SQL").first ?? [:]
            let name = try #require(fields["name"]), count = try #require(fields["count"].flatMap(Int.init))
            let statement = try #require(parts.last).split(separator: " ").prefix(3).joined(separator: " ")
            counts[name, default: [:]][statement, default: 0] += count
        }
        for name in ["store-floor", "pipelined"] {
            let statements = try #require(counts[name], "\(name): \(result)")
            // Each job's three rows, once each, and their commits.
            for table in ["submissions", "outcomes", "events"] {
                #expect(statements["INSERT INTO \(table)"] == 300, "\(name): \(table)")
            }
            #expect(statements["COMMIT"] ?? 0 > 0, "\(name)")
        }
        #expect(counts["serial"] == nil, "only pipelined runs are traced")
    }

    /// `PUMASI_BENCH_STEPS=1`: each serial run prints where a job's time went, step by step, in the order the job
    /// passes them; the pipelined run prints none.
    @Test func aSerialRunPrintsItsStepsInTheOrderAJobTakesThem() throws {
        let run = try CLIProcess(
            "pumasi-bench", ["20", "40", "1", "floor,full", "10"], environment: ["PUMASI_BENCH_STEPS": "1"])
        let result = run.finish(within: 100)
        #expect(result.termination == .exit(0), "\(result)")
        var steps: [String: [String: (p50: Double, jobs: Int)]] = [:]
        for fields in CrowdTests.lines(result.stdout, kind: "STEP") {
            let name = try #require(fields["name"]), step = try #require(fields["step"])
            steps[name, default: [:]][step] = (
                try #require(fields["p50_us"].flatMap(Double.init)), try #require(fields["jobs"].flatMap(Int.init))
            )
        }
        #expect(steps["pipelined"] == nil)
        // The broker's path, along the two chains that hold in every job (one step causes the next, or follows it on
        // the same thread), so their medians are in the same order: the job to the evaluator and back, and the
        // submission's commit, then the result's.
        let serial = try #require(steps["serial"], "\(result)")
        let chains = [
            ["broker-woke", "handled", "job-sent", "evaluator-received", "evaluator-replied", "finished"],
            ["job-sent", "committed", "committed#2", "finished"],
        ]
        for path in chains {
            for (earlier, later) in zip(path, path.dropFirst()) {
                let first = try #require(serial[earlier], "\(earlier): \(result)")
                let second = try #require(serial[later], "\(later): \(result)")
                #expect(first.p50 < second.p50, "\(earlier) before \(later)")
                #expect(first.jobs == 40 && second.jobs == 40, "\(earlier), \(later)")
            }
        }
        #expect(serial["finished"]?.jobs == 40)
        #expect(serial["receipt"]?.jobs == 40)
        // The store floor's path: two transactions, each written then committed.
        let floor = try #require(steps["store-floor-serial"], "\(result)")
        let floorPath = ["written", "committed", "written#2", "committed#2", "finished"]
        for (earlier, later) in zip(floorPath, floorPath.dropFirst()) {
            let first = try #require(floor[earlier], "\(earlier): \(result)")
            let second = try #require(floor[later], "\(later): \(result)")
            #expect(first.p50 <= second.p50, "\(earlier) before \(later)")
        }
        #expect(floor["finished"]?.jobs == 40)
    }
}

extension BenchTests {
    /// This process's CPUs, from `Cpus_allowed_list` in `/proc/self/status` ("0-3,6").
    static func allowedCPUs() throws -> [Int] {
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("Cpus_allowed_list:") })
        return try line.dropFirst("Cpus_allowed_list:".count).trimmingCharacters(in: .whitespaces)
            .split(separator: ",").flatMap { range -> ClosedRange<Int> in
                let ends = try range.split(separator: "-").map { try #require(Int($0)) }
                return try #require(ends.first)...(try #require(ends.last))
            }
    }

    /// `PUMASI_BENCH_BROKER_CPU=N`: the broker's loop thread runs on CPU N alone, the driver (and every other thread
    /// of the run) on the others, and the jobs are still all scored.
    @Test(.enabled(if: ((try? allowedCPUs()) ?? []).count > 1, "placing the broker's thread alone needs two CPUs"))
    func theBrokersLoopThreadCanHaveACPUToItself() throws {
        let cpus = try Self.allowedCPUs()
        let chosen = try #require(cpus.last)
        let run = try CLIProcess(
            "pumasi-bench", ["20", "20", "1", "full", "10"], environment: ["PUMASI_BENCH_BROKER_CPU": "\(chosen)"])
        let result = run.finish(within: 100)
        #expect(result.termination == .exit(0), "\(result)")
        let others = cpus.filter { $0 != chosen }.map(String.init).joined(separator: ",")
        #expect(
            result.stdout.contains("PLACE name=full broker_thread_cpus=\(chosen) driver_cpus=\(others)\n"),
            "\(result)")
        #expect(CrowdTests.results(result.stdout)["serial"]?["jobs"] == "20", "\(result)")
    }

    @Test func aCPUTheProcessCannotUseIsRefusedByName() throws {
        let cpus = try Self.allowedCPUs()
        let missing = (cpus.max() ?? 0) + 1
        for value in ["\(missing)", "two"] {
            let run = try CLIProcess(
                "pumasi-bench", ["20", "20", "1", "full"], environment: ["PUMASI_BENCH_BROKER_CPU": value])
            let result = run.finish(within: 30)
            #expect(result.termination == .exit(64), "\(result)")
            #expect(result.stderr.contains("PUMASI_BENCH_BROKER_CPU=\(value) is not one of this process's CPUs"))
            #expect(!result.stdout.contains("RESULT"), "\(result)")
        }
    }
}

/// `StepTrace.summary`: jobs split at each `sent`, steps counted within their job, medians ordered.
@Suite struct StepTraceSummaryTests {
    @Test func marksAreGroupedByJobAndOccurrenceAndOrderedByTheirMedian() {
        typealias Mark = StepTrace.Mark
        let marks = [
            Mark(nanos: 500, step: .committed),  // before any job: dropped
            Mark(nanos: 1_000, step: .sent), Mark(nanos: 3_000, step: .committed),
            Mark(nanos: 9_000, step: .committed), Mark(nanos: 10_000, step: .finished),
            Mark(nanos: 20_000, step: .sent), Mark(nanos: 24_000, step: .committed),
            Mark(nanos: 26_000, step: .finished), Mark(nanos: 30_000, step: .sent),
            Mark(nanos: 31_000, step: .committed), Mark(nanos: 40_000, step: .finished),
        ]
        #expect(
            StepTrace.summary(marks) == [
                .init(label: "committed", p50Micros: 2, sinceLastMicros: 2, jobs: 3),
                .init(label: "committed#2", p50Micros: 8, sinceLastMicros: 6, jobs: 1),
                .init(label: "finished", p50Micros: 9, sinceLastMicros: 2, jobs: 3),
            ])
        #expect(StepTrace.summary([Mark(nanos: 1, step: .finished)]).isEmpty)
    }

    @Test func nothingIsRecordedWhileTheTraceIsOff() {
        StepTrace.mark(.handled)
        #expect(StepTrace.stop().isEmpty)
    }
}

@Suite struct SQLTraceTests {
    /// Each statement's runs are counted while the trace is on, and none while it is off. Other tests' statements may
    /// be recorded beside these (the trace is the process's); these tables' names are this test's own.
    @Test func statementsAreCountedAndTimedOnlyWhileTheTraceIsOn() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let db = try SQLiteConnection(path: dir.file("trace.sqlite3"))
        try db.execute("CREATE TABLE trace_on (n INTEGER); CREATE TABLE trace_off (n INTEGER)")
        try db.run("INSERT INTO trace_off (n) VALUES (?)", [.integer(0)])
        SQLTrace.start()
        for n in 1...3 { try db.run("INSERT INTO trace_on (n) VALUES (?)", [.integer(Int64(n))]) }
        let total = try db.queryOne("SELECT SUM(n) FROM trace_on")?.int(0)
        let recorded = SQLTrace.stop()
        try db.run("INSERT INTO trace_on (n) VALUES (?)", [.integer(4)])
        #expect(total == 6)
        let inserts = try #require(recorded.first { $0.text == "INSERT INTO trace_on (n) VALUES (?)" })
        #expect(inserts.count == 3)
        #expect(inserts.nanos > 0)
        #expect(recorded.first { $0.text == "SELECT SUM(n) FROM trace_on" }?.count == 1)
        #expect(!recorded.contains { $0.text.contains("trace_off") })
        #expect(SQLTrace.stop().allSatisfy { !$0.text.contains("trace_on") }, "nothing after the stop")
    }
}
