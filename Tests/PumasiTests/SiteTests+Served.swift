import Foundation
import PumasiShared
import Testing

@testable import PumasiWorker

extension SiteTests {
    /// The site and the HTML report served by a real nginx with `deploy/site/nginx.conf` and read by headless
    /// Chromium at a phone's width (390 px) and a desktop's (1280 px): the headers nginx sends, screenshots at
    /// both widths, and the layout measured by the browser itself.
    @Suite(
        "Served", .serialized, .enabled(if: HeadlessChromium.shouldRun, HeadlessChromium.skipReason),
        .enabled(if: TestNginx.shouldRun, TestNginx.skipReason))
    struct Served {
        static let widths = [390, 1280]

        /// The pages under test: the site's index and pages of the three sample challenges, and the two reports.
        static func writeSite(into root: String) throws -> [String] {
            let challenges = SiteTests.challenges()
            try SiteWriter.replace(root + "/index.html", with: SiteIndex(challenges: challenges, generatedAt: 0).html)
            var reports = [ReportTests.sample(), PhaseReportTests.sample(), ReportTests.sample()]
            for index in reports.indices { reports[index].challenge = challenges[index] }
            var cy = reports[1].awards[0]
            cy.solver = "cy"
            reports[1].awards.append(cy)
            for report in reports {
                try SiteWriter.replace(
                    root + "/" + ChallengePage.fileName(report.challenge.id), with: ChallengePage(report: report).html)
            }
            try SiteWriter.replace(root + "/report.html", with: ReportTests.sample().html())
            try SiteWriter.replace(root + "/report-phases.html", with: reports[1].html())
            return ["index.html"] + reports.map { ChallengePage.fileName($0.challenge.id) } + [
                "report.html", "report-phases.html",
            ]
        }

        @Test(.timeLimit(.minutes(3)))
        func nginxServesThePagesWithUTF8AndCachingHeaders() throws {
            let directory = try TempDirectory()
            defer { directory.remove() }
            let root = directory.file("site")
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            let pages = try Self.writeSite(into: root)
            try Data("x".utf8).write(to: URL(fileURLWithPath: root + "/.index.html.1234abcd.tmp"))
            let nginx = try TestNginx(root: root, prefix: directory.file("nginx"))
            defer { nginx.stop() }
            for page in pages + [""] {
                let response = try #require(TestNginx.get("\(nginx.base)/\(page)"), "no answer for /\(page)")
                #expect(response.status == 200, "/\(page)")
                #expect(response.headers["content-type"] == "text/html; charset=utf-8", "/\(page)")
                #expect(response.headers["cache-control"] == "public, max-age=60, must-revalidate", "/\(page)")
                #expect(response.headers["x-content-type-options"] == "nosniff")
                #expect(response.headers["etag"] != nil && response.headers["last-modified"] != nil)
                let expected = FileManager.default.contents(atPath: root + "/" + (page.isEmpty ? "index.html" : page))
                #expect(response.body == expected, "/\(page)")
            }
            #expect(TestNginx.get("\(nginx.base)/.index.html.1234abcd.tmp")?.status == 404)
            #expect(TestNginx.get("\(nginx.base)/missing.html")?.status == 404)
            // The links between the pages resolve on the server.
            let index = String(decoding: try #require(TestNginx.get(nginx.base + "/")).body, as: UTF8.self)
            let links = index.components(separatedBy: "<a href=\"").dropFirst().compactMap {
                $0.split(separator: "\"").first.map(String.init)
            }
            #expect(links.count == 3)
            for link in links { #expect(TestNginx.get("\(nginx.base)/\(link)")?.status == 200, "\(link)") }
            // The configuration loads without a warning.
            let log = (try? String(contentsOfFile: nginx.prefix + "/error.log", encoding: .utf8)) ?? ""
            #expect(!log.contains("[warn]") && !log.contains("[emerg]"), "\(log)")
        }

        @Test(.timeLimit(.minutes(5)))
        func pagesReadWellAtPhoneAndDesktopWidths() throws {
            let directory = try TempDirectory()
            defer { directory.remove() }
            let root = directory.file("site")
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            let pages = try Self.writeSite(into: root)
            // The test's own page, outside the site's rules (.htm: no CSP header, so its script runs): it frames a
            // page at each width and measures it from outside, through the same-origin DOM.
            try Data(Self.measurer.utf8).write(to: URL(fileURLWithPath: root + "/measure.htm"))
            let nginx = try TestNginx(root: root, prefix: directory.file("nginx"))
            defer { nginx.stop() }
            for page in pages {
                let (result, seconds) = try HeadlessChromium.run(
                    ["--dump-dom", "--virtual-time-budget=10000", "--window-size=1800,1000"],
                    url: "\(nginx.base)/measure.htm?\(page)")
                #expect(result.termination == .exit(0), "\(result)")
                let layouts = try Self.layouts(result.stdout)
                #expect(layouts.count == Self.widths.count, "\(page): \(result.stdout.suffix(2000))")
                for layout in layouts {
                    print(
                        "\(page) at \(layout.width) px: page \(layout.scrollWidth) px wide, \(layout.words) words, "
                            + "\(layout.broken.count) broken, \(layout.outside.count) outside, "
                            + "\(layout.scrollers) of \(layout.tables) tables scrolling in their box "
                            + "(\(String(format: "%.2f", seconds)) s)")
                    #expect(layout.scrollWidth <= layout.width, "\(page) at \(layout.width) px overflows")
                    #expect(layout.outside.isEmpty, "\(page) at \(layout.width) px: \(layout.outside)")
                    #expect(layout.broken.isEmpty, "\(page) at \(layout.width) px breaks \(layout.broken)")
                    // Timestamps never split, not even after a hyphen.
                    let dates = layout.split.filter { $0.contains(#/[0-9]{4}-[0-9|]{2,3}-[0-9|]{2,3}/#) }
                    #expect(dates.isEmpty, "\(page) at \(layout.width) px splits \(dates)")
                    if !layout.split.isEmpty { print("  split after punctuation: \(layout.split)") }
                    #expect(layout.words > 50)
                }
                // On a phone, the wide tables scroll in their own box; at desktop width the site's fit.
                let phone = try #require(layouts.first { $0.width == 390 })
                #expect(phone.scrollers > 0, "\(page)")
            }
            // Screenshots at both widths: painted, with the chart on the challenge pages.
            for page in pages {
                for width in Self.widths {
                    let png = directory.file("\(page)-\(width).png")
                    let (result, _) = try HeadlessChromium.run(
                        ["--screenshot=\(png)", "--window-size=\(width),2600", "--hide-scrollbars"],
                        url: "\(nginx.base)/\(page)")
                    #expect(result.termination == .exit(0), "\(result)")
                    let image = try PNGImage(try #require(FileManager.default.contents(atPath: png), "\(result)"))
                    #expect(image.width == width && image.height == 2600)
                    // PUMASI_TEST_SCREENSHOTS=DIR keeps them, to look at.
                    if let keep = ProcessInfo.processInfo.environment["PUMASI_TEST_SCREENSHOTS"] {
                        try? FileManager.default.createDirectory(atPath: keep, withIntermediateDirectories: true)
                        try? FileManager.default.copyItem(atPath: png, toPath: keep + "/\(page)-\(width).png")
                    }
                    #expect(image.colorCount > 50, "\(page) at \(width) px looks blank")
                    // The phases report's current phase has no scored submission: its chart says so, with no line.
                    if page != "index.html" && page != "report-phases.html" {
                        print("\(page) at \(width) px: \(image.count(near: 0x2563eb)) chart-line pixels")
                        #expect(image.count(near: 0x2563eb) > 100, "\(page) at \(width) px: no chart line")
                    }
                }
            }
        }

        /// What the measuring page reports for one width.
        struct Layout: Decodable {
            var width: Int
            var scrollWidth: Int
            var words: Int
            var broken: [String]
            var split: [String]
            var outside: [String]
            var scrollers: Int
            var tables: Int
        }

        /// The layouts the measuring page wrote (base64 JSON in `pre#out`, safe from HTML escaping).
        static func layouts(_ dom: String) throws -> [Layout] {
            guard let start = dom.range(of: "<pre id=\"out\">"),
                let end = dom.range(of: "</pre>", range: start.upperBound..<dom.endIndex)
            else { return [] }
            let encoded = String(dom[start.upperBound..<end.lowerBound])
            if encoded.isEmpty { return [] }
            let data = try #require(Data(base64Encoded: encoded), "not base64: \(encoded.prefix(200))")
            return try JSONDecoder().decode([Layout].self, from: data)
        }

        /// Frames `?<page>` at each width and, once everything has loaded, measures each frame: the page's width
        /// against the frame's; every element's box against the frame's edges (but inside a table's scrolling
        /// box, which may be wider); and each word of every text node, which must lie on a single line.
        static let measurer = """
            <!DOCTYPE html>
            <html><head><meta charset="utf-8"><title>measure</title></head>
            <body style="margin:0">
            \(widths.map { "<iframe data-width=\"\($0)\" scrolling=\"no\" style=\"width:\($0)px;height:900px;border:0;display:block\"></iframe>" }.joined(separator: "\n"))
            <pre id="out"></pre>
            <script>
            const page = decodeURIComponent(location.search.slice(1));
            for (const frame of document.querySelectorAll('iframe')) frame.src = page;
            function measure(frame) {
              const doc = frame.contentDocument;
              const width = doc.documentElement.clientWidth;
              const outside = [];
              for (const element of doc.body.querySelectorAll('*')) {
                const box = element.closest('.scroll');
                if (box && box !== element) continue;
                const rect = element.getBoundingClientRect();
                if (rect.width > 0 && (rect.right > width + 0.5 || rect.left < -0.5)) {
                  outside.push(element.tagName + (element.id ? '#' + element.id : '') + ' ' + Math.round(rect.right));
                }
              }
              const broken = [];
              const split = [];
              let words = 0;
              const walker = doc.createTreeWalker(doc.body, NodeFilter.SHOW_TEXT);
              while (walker.nextNode()) {
                const node = walker.currentNode;
                const pattern = /\\S+/g;
                let match;
                while ((match = pattern.exec(node.textContent))) {
                  const range = doc.createRange();
                  range.setStart(node, match.index);
                  range.setEnd(node, match.index + match[0].length);
                  const rects = Array.from(range.getClientRects()).filter(r => r.width > 0 && r.height > 0);
                  if (rects.length === 0) continue;
                  words++;
                  const lines = new Set(rects.map(r => Math.round(r.top)));
                  if (lines.size < 2) continue;
                  // Where the line breaks: between two letters or digits is a word broken inside ("Deadl|ine");
                  // after punctuation ("alert(1)|and") is a break Unicode's line-breaking rules allow.
                  let previous = null;
                  for (let i = 0; i < match[0].length; i++) {
                    const one = doc.createRange();
                    one.setStart(node, match.index + i);
                    one.setEnd(node, match.index + i + 1);
                    const box = Array.from(one.getClientRects()).find(r => r.height > 0);
                    if (!box) continue;
                    const top = Math.round(box.top);
                    if (previous !== null && top !== previous) {
                      const inside = /[\\p{L}\\p{N}]/u.test(match[0][i - 1]) && /[\\p{L}\\p{N}]/u.test(match[0][i]);
                      (inside ? broken : split).push(match[0].slice(0, i) + '|' + match[0].slice(i));
                    }
                    previous = top;
                  }
                }
              }
              const boxes = Array.from(doc.querySelectorAll('.scroll'));
              return {
                width: width, scrollWidth: doc.documentElement.scrollWidth, words: words, broken: broken, split: split,
                outside: outside, scrollers: boxes.filter(b => b.scrollWidth > b.clientWidth).length,
                tables: boxes.length
              };
            }
            window.addEventListener('load', () => {
              const layouts = Array.from(document.querySelectorAll('iframe')).map(measure);
              document.getElementById('out').textContent = btoa(unescape(encodeURIComponent(JSON.stringify(layouts))));
            });
            </script>
            </body></html>

            """
    }
}
