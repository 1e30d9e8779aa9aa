import Foundation
import PumasiShared

/// What the HTML report and the static site share: one stylesheet and the table markup it expects.
///
/// Layout rules, checked in a real browser at 390 and 1280 pixels (`SiteTests.Layout`): words never break inside
/// (`overflow-wrap: normal`, `word-break: normal`, `hyphens: none` in tables); a table wider than the screen
/// scrolls in its own `div.scroll` instead of squeezing its columns or widening the page; the chart scales down.
enum PageStyle {
    static let stylesheet = """
        * { box-sizing: border-box; }
        body { font-family: "DejaVu Sans", Verdana, sans-serif; color: #111827; background: #f9fafb; \
        margin: 0 auto; max-width: 1200px; padding: 24px; line-height: 1.4; }
        h1 { margin: 0 0 4px; font-size: 26px; overflow-wrap: break-word; }
        h2 { margin: 28px 0 8px; font-size: 19px; }
        a { color: #1d4ed8; }
        nav { margin-bottom: 12px; font-size: 14px; }
        .subtitle, footer, .empty, p.phase, p.note { color: #6b7280; }
        footer { margin-top: 32px; font-size: 12px; }
        .scroll { overflow-x: auto; max-width: 100%; }
        table { border-collapse: collapse; background: #ffffff; font-size: 14px; }
        .scroll > table { min-width: 100%; }
        th, td { border-bottom: 1px solid #e5e7eb; padding: 6px 10px; text-align: left; vertical-align: top; \
        overflow-wrap: normal; word-break: normal; hyphens: none; }
        thead th { background: #f3f4f6; white-space: nowrap; }
        td { font-variant-numeric: tabular-nums; }
        .nowrap, .scroll td { white-space: nowrap; }
        .scroll td.text { white-space: normal; min-width: 14em; }
        table.facts { width: 100%; }
        table.facts th { color: #4b5563; font-weight: normal; white-space: nowrap; width: 1%; }
        .about, .prose { white-space: pre-wrap; overflow-wrap: break-word; }
        tr.unscored td { color: #9ca3af; }
        tr.member td:first-child { padding-left: 26px; }
        svg.chart { display: block; max-width: 100%; height: auto; background: #ffffff; border: 1px solid #e5e7eb; }
        @media (max-width: 600px) {
          body { padding: 12px; }
          h1 { font-size: 22px; }
          h2 { font-size: 17px; }
          table { font-size: 13px; }
          th, td { padding: 5px 7px; }
        }
        """

    /// A table in a `div.scroll`, so that on a narrow screen it scrolls by itself. `header` is text, escaped here;
    /// `rows` are markup (`row(_:class:)`).
    static func table(_ header: [String], _ rows: [String], id: String, class name: String? = nil) -> String {
        let head = header.map { "<th scope=\"col\">\(HTMLText.escape($0))</th>" }.joined()
        let attribute = name.map { " class=\"\($0)\"" } ?? ""
        return "<div class=\"scroll\"><table id=\"\(id)\"\(attribute)>\n<thead><tr>\(head)</tr></thead>\n<tbody>\n"
            + rows.joined(separator: "\n") + "\n</tbody>\n</table></div>"
    }

    /// A row of text cells, each escaped. Cells of a scrolling table stay on one line, but for the columns in
    /// `wrap` (free text: notes, members), which wrap between words and keep timestamps whole.
    static func row(_ cells: [String], class name: String? = nil, wrap: Set<Int> = []) -> String {
        let attribute = name.map { " class=\"\($0)\"" } ?? ""
        let tds = cells.enumerated().map { index, cell in
            wrap.contains(index) ? "<td class=\"text\">\(text(cell))</td>" : "<td>\(HTMLText.escape(cell))</td>"
        }
        return "<tr\(attribute)>" + tds.joined() + "</tr>"
    }

    /// `text` escaped, each timestamp (`2026-11-23 10:00:00 UTC`) in a `span.nowrap`: a line may break between
    /// words, never inside a date after one of its hyphens.
    static func text(_ text: String) -> String {
        HTMLText.escape(text).replacing(#/[0-9]{4}-[0-9]{2}-[0-9]{2}( [0-9]{2}:[0-9]{2}(:[0-9]{2})?( UTC)?)?/#) {
            "<span class=\"nowrap\">\($0.output.0)</span>"
        }
    }

    /// A two-column table of facts (`<th>` name, `<td>` escaped value), as wide as the page.
    static func facts(_ facts: [(String, String)], prose: [(String, String)] = []) -> String {
        var rows = facts.map {
            "<tr><th scope=\"row\">\(HTMLText.escape($0.0))</th><td>\(text($0.1))</td></tr>"
        }
        rows += prose.map {
            "<tr><th scope=\"row\">\(HTMLText.escape($0.0))</th><td class=\"about\">\(text($0.1))</td></tr>"
        }
        return "<table class=\"facts\">\n" + rows.joined(separator: "\n") + "\n</table>"
    }

    /// `2026-11-23 10:00:00 UTC`.
    static func shownTime(_ millis: Millis) -> String {
        WallClock.iso(millis).replacingOccurrences(of: "T", with: " ").replacingOccurrences(of: "Z", with: " UTC")
    }

    /// The `<head>` every page has: UTF-8, a Content Security Policy that allows inline CSS and nothing else (no
    /// script, no request), the phone viewport, and the stylesheet.
    static func head(title: String, generator: String) -> String {
        """
        <head>
        <meta charset="utf-8">
        <meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <meta name="generator" content="\(HTMLText.escape(generator))">
        <title>\(HTMLText.escape(title))</title>
        <style>\(stylesheet)</style>
        </head>
        """
    }
}
