import Foundation

/// Log levels, trace to critical.
public enum LogLevel: Int, Comparable, Sendable, CaseIterable {
    case trace, debug, info, notice, warning, error, critical

    public static func < (a: LogLevel, b: LogLevel) -> Bool { a.rawValue < b.rawValue }

    public init?(name: String) {
        guard let level = LogLevel.allCases.first(where: { "\($0)" == name.lowercased() }) else { return nil }
        self = level
    }
}

/// A small structured logger: one line per event, a constant message plus dot-namespaced metadata,
/// written to standard error. Thread-safe.
public struct Logger: Sendable {
    public let label: String
    public var level: LogLevel

    public init(label: String, level: LogLevel = .info) {
        self.label = label
        self.level = level
    }

    public func log(_ level: LogLevel, _ message: String, _ metadata: KeyValuePairs<String, String> = [:]) {
        guard level >= self.level else { return }
        var line = "\(Logger.timestamp()) \(level) \(label): \(Logger.escaped(message))"
        for (key, rawValue) in metadata {
            let value = Logger.escaped(rawValue)
            let quoted = value.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" }) || value.isEmpty
            line += " \(key)=" + (quoted ? "\"\(value.replacingOccurrences(of: "\"", with: "\\\""))\"" : value)
        }
        line += "\n"
        FileHandle.standardError.write(Data(line.utf8))
    }

    public func trace(_ m: String, _ md: KeyValuePairs<String, String> = [:]) { log(.trace, m, md) }
    public func debug(_ m: String, _ md: KeyValuePairs<String, String> = [:]) { log(.debug, m, md) }
    public func info(_ m: String, _ md: KeyValuePairs<String, String> = [:]) { log(.info, m, md) }
    public func notice(_ m: String, _ md: KeyValuePairs<String, String> = [:]) { log(.notice, m, md) }
    public func warning(_ m: String, _ md: KeyValuePairs<String, String> = [:]) { log(.warning, m, md) }
    public func error(_ m: String, _ md: KeyValuePairs<String, String> = [:]) { log(.error, m, md) }
    public func critical(_ m: String, _ md: KeyValuePairs<String, String> = [:]) { log(.critical, m, md) }

    /// Control characters (C0, DEL, C1) written as escapes, so that text from peers cannot forge log lines or
    /// drive a terminal.
    public static func escaped(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: isControl) else { return text }
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where isControl(scalar): out += String(format: "\\u{%02x}", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    private static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7f...0x9f).contains(scalar.value)
    }

    private static func timestamp() -> String {
        var tv = timeval()
        gettimeofday(&tv, nil)
        var seconds = tv.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
            parts.tm_hour, parts.tm_min, parts.tm_sec, Int(tv.tv_usec / 1000))
    }
}
