import Foundation

/// The date forms competition bundles use, read as Codabench reads them (python-dateutil, month first):
/// `2020-01-15`, `2020-01-15 18:53:00+00:00`, `2020-01-15T18:53:00.5Z`, `8-7-2019` and `8/7/2019` (month, day,
/// year), each with an optional `HH:MM[:SS[.fraction]]` time and a `Z` or `±HH[:]MM` offset. Without an offset the
/// time is UTC. An offset is applied (Codabench replaces it by UTC instead; bundles write `+00:00`).
enum CodabenchDate {
    static func parse(_ text: String) -> Date? {
        var rest = Substring(text.trimmingCharacters(in: .whitespaces))
        guard let (year, month, day) = datePart(&rest) else { return nil }
        var components = DateComponents(year: year, month: month, day: day, hour: 0, minute: 0, second: 0)
        var fraction = 0.0
        var offset = 0
        if !rest.isEmpty {
            guard rest.first == " " || rest.first == "T" || rest.first == "t" else { return nil }
            rest = rest.drop { $0 == " " || $0 == "T" || $0 == "t" }
            guard let (hour, minute, second, part) = timePart(&rest), hour < 24, minute < 60, second < 60 else {
                return nil
            }
            (components.hour, components.minute, components.second, fraction) = (hour, minute, second, part)
            rest = rest.drop { $0 == " " }
            guard let zone = zoneOffset(rest) else { return nil }
            offset = zone
        }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = .gmt
        guard (1...12).contains(month), day >= 1, (1...9999).contains(year),
            let first = calendar.date(from: DateComponents(year: year, month: month, day: 1)),
            let days = calendar.range(of: .day, in: .month, for: first), days.contains(day),
            let date = calendar.date(from: components)
        else { return nil }
        return date.addingTimeInterval(fraction - Double(offset))
    }

    /// `YYYY-MM-DD`, or `M-D-YYYY` / `M/D/YYYY`, consumed from `text`.
    private static func datePart(_ text: inout Substring) -> (Int, Int, Int)? {
        let end = text.firstIndex { $0 == " " || $0 == "T" || $0 == "t" } ?? text.endIndex
        let fields = text[..<end].split(separator: "-", omittingEmptySubsequences: false)
        let parts = fields.count == 3 ? fields : text[..<end].split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 3,
            parts.allSatisfy({ (1...4).contains($0.count) && $0.allSatisfy({ $0.isASCII && $0.isNumber }) }),
            let a = Int(parts[0]), let b = Int(parts[1]), let c = Int(parts[2])
        else { return nil }
        text = text[end...]
        if parts[0].count == 4 { return (a, b, c) }
        return parts[2].count == 4 ? (c, a, b) : nil
    }

    /// `HH:MM[:SS[.fraction]]`, consumed from `text`.
    private static func timePart(_ text: inout Substring) -> (Int, Int, Int, Double)? {
        let end = text.firstIndex { !($0.isASCII && ($0.isNumber || $0 == ":" || $0 == ".")) } ?? text.endIndex
        let fields = text[..<end].split(separator: ":", omittingEmptySubsequences: false)
        text = text[end...]
        guard (2...3).contains(fields.count), fields[0].count <= 2, fields[1].count == 2,
            let hour = Int(fields[0]), let minute = Int(fields[1])
        else { return nil }
        guard fields.count == 3 else { return (hour, minute, 0, 0) }
        let seconds = fields[2].split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard seconds[0].count == 2, let second = Int(seconds[0]) else { return nil }
        guard seconds.count == 2 else { return (hour, minute, second, 0) }
        guard !seconds[1].isEmpty, seconds[1].allSatisfy(\.isNumber), let part = Double("0." + seconds[1]) else {
            return nil
        }
        return (hour, minute, second, part)
    }

    /// Seconds east of UTC for `""`, `Z`, `±HH`, `±HHMM` or `±HH:MM`; nil for anything else.
    private static func zoneOffset(_ text: Substring) -> Int? {
        if text.isEmpty || text == "Z" || text == "z" || text == "UTC" { return 0 }
        guard let sign = text.first, sign == "+" || sign == "-" else { return nil }
        let digits = text.dropFirst().filter { $0 != ":" }
        guard digits.count == 2 || digits.count == 4, digits.allSatisfy({ $0.isASCII && $0.isNumber }),
            let hours = Int(digits.prefix(2)),
            let minutes = Int(digits.dropFirst(2).isEmpty ? "0" : digits.dropFirst(2)),
            hours < 24, minutes < 60
        else { return nil }
        return (sign == "-" ? -1 : 1) * (hours * 3600 + minutes * 60)
    }
}
