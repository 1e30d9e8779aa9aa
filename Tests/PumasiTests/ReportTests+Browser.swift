import Foundation
import PumasiShared
import Testing

@testable import PumasiWorker

/// Debian's headless Chromium, found by path. Installed by `apt-get install chromium`.
enum HeadlessChromium {
    static let candidates = ["/usr/bin/chromium", "/usr/lib/chromium/chromium", "/usr/bin/chromium-browser"]
    static let path = candidates.first(where: FileManager.default.isExecutableFile(atPath:))
    /// CI sets `CI`; there a missing browser fails the test instead of skipping it.
    static let isCI = !(ProcessInfo.processInfo.environment["CI"] ?? "").isEmpty
    static let shouldRun = path != nil || isCI
    static let skipReason: Comment =
        "chromium is not installed (apt-get install chromium); with CI set this test fails instead"

    /// Runs Chromium headless on `file` with `arguments` and a throwaway profile, bounded by `seconds`.
    /// - Returns: what it printed and how long it took.
    static func run(_ arguments: [String], file: String, seconds: Double = 60) throws -> (CLIResult, Double) {
        try run(arguments, url: URL(fileURLWithPath: file).absoluteString, seconds: seconds)
    }

    /// Runs Chromium headless on `url` (a page served over loopback HTTP, or a file URL) with `arguments`.
    /// - Returns: what it printed and how long it took.
    static func run(_ arguments: [String], url: String, seconds: Double = 60) throws -> (CLIResult, Double) {
        let browser = try #require(
            path,
            "CI is set but there is no chromium at \(candidates.joined(separator: ", ")): apt-get install chromium")
        let profile = NSTemporaryDirectory() + "pumasi-chromium-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: profile) }
        let started = ContinuousClock.now
        let result = try CLIProcess(
            executable: browser,
            ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--user-data-dir=\(profile)"]
                + arguments + [url]
        ).finish(within: seconds)
        let elapsed = ContinuousClock.now - started
        return (result, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }
}

extension ReportTests {
    /// The HTML report rendered by a real browser: the DOM it builds and the pixels it paints.
    @Suite("Browser", .enabled(if: HeadlessChromium.shouldRun, HeadlessChromium.skipReason))
    struct Browser {
        @Test(.timeLimit(.minutes(2)))
        func domHasTheTablesAndTheChart() throws {
            let directory = try TempDirectory()
            defer { directory.remove() }
            let report = ReportTests.sample()
            let file = try directory.write("report.html", report.html())
            let (result, seconds) = try HeadlessChromium.run(["--dump-dom"], file: file)
            print("chromium --dump-dom took \(String(format: "%.2f", seconds)) s")
            #expect(result.termination == .exit(0), "\(result)")
            let dom = result.stdout
            let table = try #require(ReportTests.element("table id=\"leaderboard-table\"", in: dom), "\(dom)")
            #expect(table.components(separatedBy: "<tr").count - 1 == 1 + report.leaderboard.count)
            let awards = try #require(ReportTests.element("table id=\"awards-table\"", in: dom))
            #expect(awards.components(separatedBy: "<tr").count - 1 == 2)
            // The hostile title is text: no script element came out of it.
            #expect(!dom.contains("<script"))
            #expect(dom.contains("<h1>&lt;script&gt;alert(1)&lt;/script&gt; Churn &amp; \"retention\"</h1>"))
            let svg = try #require(ReportTests.element("svg", in: dom))
            let chart = ScoreChart(report: report)
            #expect(Chart.pathPoints(svg)?.count == chart.steps.count)
            #expect(chart.steps.count == 5)
            #expect(svg.components(separatedBy: "<circle").count - 1 == 4)
        }

        @Test(.timeLimit(.minutes(2)))
        func screenshotShowsTheChart() throws {
            let directory = try TempDirectory()
            defer { directory.remove() }
            var report = ReportTests.sample()
            report.challenge.description = ""
            let file = try directory.write("report.html", report.html())
            let png = directory.file("report.png")
            let (result, seconds) = try HeadlessChromium.run(
                ["--screenshot=\(png)", "--window-size=1000,1400", "--hide-scrollbars"], file: file)
            print("chromium --screenshot took \(String(format: "%.2f", seconds)) s")
            #expect(result.termination == .exit(0), "\(result)")
            let data = try #require(FileManager.default.contents(atPath: png), "no screenshot: \(result)")
            let image = try PNGImage(data)
            #expect(image.width == 1000 && image.height == 1400)
            #expect(image.colorCount > 50, "a blank page has one or two colours")
            // The best-so-far line (#2563eb) and the submissions' dots (#f97316) are painted.
            #expect(image.count(near: 0x2563eb) > 300)
            #expect(image.count(near: 0xf97316) > 4 * 20)
        }
    }
}
