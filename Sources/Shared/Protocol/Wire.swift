import Foundation

/// The version of every JSON body on the wire.
public let wireVersion = 1

/// A request's or a reply's first body frame is JSON; any further frames carry raw file bytes.
public enum Wire {
    public static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    public static func encode<T: Encodable>(_ value: T) -> Data {
        // Encoding our own model types cannot fail: they hold only strings, numbers and containers of them.
        (try? encoder.encode(value)) ?? Data("{}".utf8)
    }

    /// Decodes a request body. The common case costs one parse; when it fails, the body is examined again
    /// to name the problem: not JSON, not an object, a missing or wrong version, or the field at fault.
    public static func decode<T: Decodable>(_ type: T.Type, from frame: Data?) throws(ProtocolError) -> T {
        guard let frame, !frame.isEmpty else { throw ProtocolError(.badRequest, "missing JSON body frame") }
        if let fast = T.self as? any FastJSONDecodable.Type, let value = fast.fastDecode(frame) as? T { return value }
        return try decodeNamingTheProblem(type, from: frame)
    }

    /// The same for a body the broker reads once per job, where the type is known where it is called: without the
    /// dynamic cast above.
    public static func decode<T: Decodable & FastJSONDecodable>(_ type: T.Type, from frame: Data?) throws(ProtocolError)
        -> T
    {
        guard let frame, !frame.isEmpty else { throw ProtocolError(.badRequest, "missing JSON body frame") }
        if let value = T.fastDecode(frame) { return value }
        return try decodeNamingTheProblem(type, from: frame)
    }

    /// `JSONDecoder`'s reading of a body, and the problem named when it fails.
    private static func decodeNamingTheProblem<T: Decodable>(_ type: T.Type, from frame: Data) throws(ProtocolError)
        -> T
    {
        if let envelope = try? JSONDecoder().decode(Versioned<T>.self, from: frame) {
            guard envelope.v == wireVersion else {
                throw ProtocolError(
                    .badVersion, "protocol version \(envelope.v) is not supported; this broker speaks v\(wireVersion)")
            }
            return envelope.body
        }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: frame)
        } catch {
            throw ProtocolError(.badRequest, "body is not valid JSON (\(frame.count) bytes)")
        }
        guard let dictionary = object as? [String: Any] else {
            throw ProtocolError(.badRequest, "body must be a JSON object")
        }
        guard let version = dictionary["v"] as? Int else {
            throw ProtocolError(.badVersion, "body has no protocol version \"v\"; this broker speaks v\(wireVersion)")
        }
        guard version == wireVersion else {
            throw ProtocolError(
                .badVersion, "protocol version \(version) is not supported; this broker speaks v\(wireVersion)")
        }
        do {
            return try JSONDecoder().decode(T.self, from: frame)
        } catch let DecodingError.keyNotFound(key, context) {
            throw ProtocolError(.badRequest, "missing field \"\(path(context.codingPath + [key]))\"")
        } catch let DecodingError.typeMismatch(_, context) {
            throw ProtocolError(.badRequest, "field \"\(path(context.codingPath))\" has the wrong type")
        } catch let DecodingError.valueNotFound(_, context) {
            throw ProtocolError(.badRequest, "field \"\(path(context.codingPath))\" is null")
        } catch let DecodingError.dataCorrupted(context) {
            guard !context.codingPath.isEmpty else {
                throw ProtocolError(
                    .badRequest,
                    "body holds a number its field cannot take: a fraction where a whole number is due, or one out of range"
                )
            }
            throw ProtocolError(
                .badRequest, "field \"\(path(context.codingPath))\": \(readable(context.debugDescription))")
        } catch {
            throw ProtocolError(.badRequest, "body does not match the request: \(error)")
        }
    }

    /// Decodes the version and the body in one pass.
    private struct Versioned<T: Decodable>: Decodable {
        var v: Int
        var body: T

        private enum Key: String, CodingKey { case v }

        init(from decoder: any Decoder) throws {
            v = try decoder.container(keyedBy: Key.self).decode(Int.self, forKey: .v)
            body = try T(from: decoder)
        }
    }

    /// `JSONDecoder`'s reason in words for a client: a value an enumeration does not know is named, cut to 64
    /// characters (the reason quotes it whole, and it may be as long as the body).
    static func readable(_ reason: String) -> String {
        let marker = " from invalid String value "
        guard reason.hasPrefix("Cannot initialize "), let range = reason.range(of: marker) else {
            return String(reason.prefix(200))
        }
        let value = reason[range.upperBound...]
        let shown = value.count > 64 ? value.prefix(64) + "…" : value
        return "\"\(shown)\" is not one of the values it takes (docs/protocol.md lists them)"
    }

    private static func path(_ keys: [any CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
    }
}

/// An error returned to a client: a stable code plus a message that names the problem.
public struct ProtocolError: Error, Codable, Equatable, CustomStringConvertible, Sendable {
    public enum Code: String, Codable, Sendable {
        case badRequest = "bad_request"
        case badVersion = "bad_version"
        case unknownService = "unknown_service"
        case notFound = "not_found"
        case forbidden = "forbidden"
        case conflict = "conflict"
        case closed = "closed"
        case tooLarge = "too_large"
        case limitReached = "limit_reached"
        case unavailable = "unavailable"
        case `internal` = "internal"
    }

    public var code: Code
    public var message: String
    /// On a busy reply (`unavailable` from a broker that refused a request because its sender is over its rate): how
    /// long to wait before sending again, in milliseconds. Absent from every other error, so that a client that does
    /// not know the field reads the reply as it always has.
    public var retryAfterMs: Int?

    public init(_ code: Code, _ message: String, retryAfterMs: Int? = nil) {
        self.code = code
        self.message = message
        self.retryAfterMs = retryAfterMs
    }

    /// The broker refused the request unread, for its sender's rate (`retryAfterMs` says when to send it again).
    /// Nothing of it was done, so sending it again is safe whatever the request.
    public var isBusy: Bool { code == .unavailable && retryAfterMs != nil }

    public var description: String { "\(message) [\(code.rawValue)]" }
}

/// The JSON frame of every reply: `{"v":1,"ok":true,"result":…}` or `{"v":1,"ok":false,"error":…}`.
public struct Reply<Result: Codable>: Codable {
    public var v: Int = wireVersion
    public var ok: Bool
    public var result: Result?
    public var error: ProtocolError?

    public static func success(_ result: Result) -> Reply { Reply(ok: true, result: result, error: nil) }
    public static func failure(_ error: ProtocolError) -> Reply { Reply(ok: false, result: nil, error: error) }
}

/// An empty result.
public struct Empty: Codable, Sendable, Equatable {
    public init() {}
}
