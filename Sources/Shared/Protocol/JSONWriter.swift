import Foundation

/// Writes one JSON object field by field, for the few bodies the broker sends per job (receipts, job requests,
/// announcements), where Foundation's `JSONEncoder` costs more than everything else the broker does for them.
/// The output decodes with `JSONDecoder` into the same types (the protocol tests check each one).
public struct JSONWriter {
    private var bytes: [UInt8] = []
    private var empty = true

    /// One allocation: the buffer reserved empty, then the brace (a literal `[brace]` reserved after is two).
    public init() {
        bytes.reserveCapacity(256)
        bytes.append(UInt8(ascii: "{"))
    }

    public mutating func string(_ key: String, _ value: String?) {
        guard let value else { return }
        name(key)
        Self.quote(value, into: &bytes)
    }

    public mutating func int(_ key: String, _ value: Int64?) {
        guard let value else { return }
        name(key)
        Self.digits(of: value, into: &bytes)
    }

    /// An integer's decimal digits, as `String(value)` spells them, written in place: making the string first
    /// was most of what writing a number cost.
    static func digits(of value: Int64, into out: inout [UInt8]) {
        var magnitude = value.magnitude
        // 20 places: UInt64's largest has 20 digits; the sign goes in front.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { buffer in
            var start = 20
            repeat {
                start -= 1
                buffer[start] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            if value < 0 { out.append(UInt8(ascii: "-")) }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[start..<20]))
        }
    }

    /// A finite double (non-finite values are skipped: JSON has no spelling for them).
    public mutating func double(_ key: String, _ value: Double?) {
        guard let value, value.isFinite else { return }
        name(key)
        bytes.append(contentsOf: "\(value)".utf8)
    }

    public mutating func decimal(_ key: String, _ value: Decimal?) {
        guard let value else { return }
        name(key)
        bytes.append(contentsOf: "\(value)".utf8)
    }

    public mutating func bool(_ key: String, _ value: Bool?) {
        guard let value else { return }
        name(key)
        bytes.append(contentsOf: (value ? "true" : "false").utf8)
    }

    /// A nested object or array already written as JSON.
    public mutating func raw(_ key: String, _ json: Data?) {
        guard let json else { return }
        name(key)
        bytes.append(contentsOf: json)
    }

    /// A nested object, written in place.
    public mutating func object(_ key: String, _ body: (inout JSONWriter) -> Void) {
        name(key)
        bytes.append(UInt8(ascii: "{"))
        empty = true
        body(&self)
        bytes.append(UInt8(ascii: "}"))
        empty = false
    }

    /// The object, closed: one allocation and one copy. (Measured: `Data(capacity:)` then appending costs more, 230
    /// against 170 ns for a receipt's 180 bytes, and so did `Data(bytes + ["}"])`.)
    public var data: Data {
        var data = Data(count: bytes.count + 1)
        data.withUnsafeMutableBytes { out in
            bytes.withUnsafeBytes { out.copyMemory(from: $0) }
            out[bytes.count] = UInt8(ascii: "}")
        }
        return data
    }

    /// The members written so far, without the braces: for `members(_:)` of another object.
    public var membersData: Data { Data(bytes.dropFirst()) }

    /// Members already written as JSON (`"a":1,"b":2`), appended as they are.
    public mutating func members(_ json: Data) {
        guard !json.isEmpty else { return }
        if !empty { bytes.append(UInt8(ascii: ",")) }
        empty = false
        bytes.append(contentsOf: json)
    }

    /// A JSON object of numbers, keys sorted (as `Wire.encode` writes it).
    public static func numbers(_ values: [String: Double]) -> Data {
        var writer = JSONWriter()
        for key in values.keys.sorted() { writer.double(key, values[key]) }
        return writer.data
    }

    /// A JSON array of objects.
    public static func array<T>(_ items: [T], _ body: (T, inout JSONWriter) -> Void) -> Data {
        var out: [UInt8] = [UInt8(ascii: "[")]
        for (index, item) in items.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            var writer = JSONWriter()
            body(item, &writer)
            out.append(contentsOf: writer.data)
        }
        out.append(UInt8(ascii: "]"))
        return Data(out)
    }

    private mutating func name(_ key: String) {
        if !empty { bytes.append(UInt8(ascii: ",")) }
        empty = false
        Self.quote(key, into: &bytes)
        bytes.append(UInt8(ascii: ":"))
    }

    private static let hex = Array("0123456789abcdef".utf8)

    static func quote(_ text: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        // Most text needs no escaping: copy it whole.
        let plain = text.utf8.withContiguousStorageIfAvailable { bytes -> Bool in
            for byte in bytes where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                return false
            }
            out.append(contentsOf: bytes)
            return true
        }
        if plain == true {
            out.append(UInt8(ascii: "\""))
            return
        }
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x0a: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0d: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0..<0x20:
                out.append(contentsOf: Array("\\u00".utf8))
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0x0f)])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}

extension Announcement {
    /// The JSON body frame.
    public var json: Data {
        var w = JSONWriter()
        w.string("topic", topic.rawValue)
        w.int("seq", seq)
        w.int("at", at)
        w.string("challenge", challenge)
        w.string("title", title)
        w.int("deadline", deadline)
        w.string("submission", submission)
        w.string("solver", solver)
        w.double("score", score)
        w.int("rank", rank.map(Int64.init))
        w.decimal("amount", amount)
        w.string("currency", currency)
        w.string("message", message)
        if let ledger {
            w.object("ledger") {
                $0.int("seq", ledger.seq)
                $0.string("hash", ledger.hash)
            }
        }
        return w.data
    }
}

extension Receipt {
    /// The whole reply body: `{"v":1,"ok":true,"result":{…}}`.
    public var replyJSON: Data {
        var w = JSONWriter()
        w.int("v", Int64(wireVersion))
        w.bool("ok", true)
        w.object("result") {
            $0.string("submission", submission)
            $0.string("challenge", challenge)
            $0.string("sha256", sha256)
            $0.int("size", Int64(size))
            $0.int("receivedAt", receivedAt)
            $0.bool("duplicate", duplicate)
            $0.bool("queued", queued)
            if let quota { $0.raw("quota", Wire.encode(quota)) }
        }
        return w.data
    }
}

extension ScoringJob {
    /// The JSON frame of the REQUEST.
    public var json: Data {
        json(tail: Self.tail(scorer: scorer, reference: reference, timeLimitSeconds: timeLimitSeconds))
    }

    /// The frame with the members every job of a challenge shares (`tail`) written once and reused.
    public func json(tail: Data) -> Data {
        var w = JSONWriter()
        w.int("v", Int64(v))
        w.int("job", job)
        w.int("attempt", Int64(attempt))
        w.string("challenge", challenge)
        w.string("submission", submission)
        w.string("filename", filename)
        w.string("sha256", sha256)
        w.int("fetch", fetch.map(Int64.init))
        w.members(tail)
        return w.data
    }

    /// The members a challenge's jobs share: scorer, reference files and time limit.
    public static func tail(scorer: ScorerSpec, reference: [FileEntry], timeLimitSeconds: Double) -> Data {
        var w = JSONWriter()
        w.object("scorer") { s in
            s.string("builtin", scorer.builtin)
            s.string("plugin", scorer.plugin)
            if let options = scorer.options {
                s.object("options") { o in for key in options.keys.sorted() { o.string(key, options[key]) } }
            }
            // A program scorer's own members (rare, so written by the encoder; read by the decoder's slow path).
            s.string("program", scorer.program)
            s.string("environment", scorer.environment)
            s.raw("ingestion", scorer.ingestion.flatMap { try? JSONEncoder().encode($0) })
            s.raw("canaries", scorer.canaries.flatMap { try? JSONEncoder().encode($0) })
        }
        w.raw(
            "reference",
            JSONWriter.array(reference) { file, f in
                f.string("name", file.name)
                f.string("role", file.role.rawValue)
                f.string("sha256", file.sha256)
                f.int("size", file.size.map(Int64.init))
            })
        w.double("timeLimitSeconds", timeLimitSeconds)
        return w.membersData
    }
}

extension ScoringResult {
    /// The JSON body of an evaluator's REPLY.
    public var json: Data {
        var w = JSONWriter()
        w.int("v", Int64(v))
        w.bool("ok", ok)
        w.double("score", score)
        if let metrics {
            w.object("metrics") { m in for key in metrics.keys.sorted() { m.double(key, metrics[key]) } }
        }
        w.string("message", message)
        if let error {
            w.object("error") { e in
                e.string("code", error.code)
                e.string("message", error.message)
            }
        }
        w.string("log", log)
        w.string("detailedResults", detailedResults)
        return w.data
    }
}
