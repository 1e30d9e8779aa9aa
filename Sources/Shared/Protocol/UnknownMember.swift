import Foundation

/// A member of a JSON object that the type it is read as does not know, such as `rules.perday`, with the nearest
/// member it does know (`rules.perDay`), if one is near.
///
/// `Decodable` ignores members it does not ask for, so a misspelt optional member is silently lost. The check
/// decodes the type once more, from the parsed tree, through a decoder that records every key each object is asked
/// for (`decodeIfPresent` asks for absent ones too, so a type's whole `CodingKeys` is seen); whatever an object holds
/// beyond those keys is unknown. Every nested type is checked by its own keys, at any depth; a dictionary (such as
/// `ScorerSpec.options`) asks for all of its keys and so accepts any.
public struct UnknownMember: Sendable, Equatable, CustomStringConvertible {
    /// Where it is: `rules.perday`, `phases[1].endsat`.
    public var path: String
    /// The path of the nearest known member, compared regardless of case, if it is near enough to be meant.
    public var suggestion: String?
    /// The members its object may have.
    public var known: [String]

    public var description: String {
        if let suggestion { return "unknown member \"\(path)\": did you mean \(suggestion)?" }
        return "unknown member \"\(path)\" (known here: \(known.joined(separator: ", ")))"
    }

    /// The members of `value` that `type` does not know, sorted by path; empty if all are known. `prefix` names
    /// where `value` sits (`spec` for a request's spec), or is empty for a document's root.
    ///
    /// Call it once `JSONDecoder` has decoded `type` from the same text: a value it cannot decode is left unchecked.
    /// `limit`: the first so many by path, whose suggestions alone are looked for (a body of a hundred thousand
    /// unknown members costs a sort of their paths, not a hundred thousand searches).
    public static func find<T: Decodable>(
        _ type: T.Type, in value: JSONValue, prefix: String = "", limit: Int = .max
    ) -> [UnknownMember] {
        let log = KeyLog()
        _ = try? T(from: KeyRecordingDecoder(value: value, path: [], log: log))
        var unknown: [(path: String, name: String, parent: String, object: Int)] = []
        for (index, object) in log.objects.enumerated() {
            let parent = format(prefix: prefix, object.path)
            for name in object.members.keys where !object.asked.contains(name) {
                unknown.append((join(parent, name), name, parent, index))
            }
        }
        unknown.sort { $0.path < $1.path }
        return unknown.prefix(max(0, limit)).map { member in
            let known = log.objects[member.object].asked.sorted()
            return UnknownMember(
                path: member.path,
                suggestion: nearest(to: member.name, among: known).map { join(member.parent, $0) }, known: known)
        }
    }

    /// For a required member that `JSONDecoder` found missing: the member of the same object that misspells it
    /// (`endsat` for `endsAt`), or nil. A misspelt required member is so reported as unknown, as an optional one is.
    public static func misspelling(
        of missing: any CodingKey, at path: [any CodingKey], in tree: JSONValue, prefix: String = ""
    ) -> UnknownMember? {
        var value = tree
        for key in path {
            if let index = key.intValue, let elements = value.array, elements.indices.contains(index) {
                value = elements[index]
            } else if let member = value.object?[key.stringValue] {
                value = member
            } else {
                return nil
            }
        }
        let name = missing.stringValue
        guard let members = value.object?.keys,
            let typed = members.sorted().first(where: { nearest(to: $0, among: [name]) != nil })
        else { return nil }
        let parent = format(prefix: prefix, path)
        return UnknownMember(
            path: join(parent, typed), suggestion: join(parent, name), known: [name])
    }

    /// The candidate nearest `name` regardless of case, by edit distance (a swap of neighbours counts one), if it
    /// is within a third of the name's length (at least 2 edits; an exact match regardless of case always).
    public static func nearest(to name: String, among candidates: [String]) -> String? {
        // No member name is this long: a longer one means nothing near, and is not compared at quadratic cost.
        guard name.utf8.count <= 256 else { return nil }
        let wanted = Array(name.lowercased())
        let limit = max(2, wanted.count / 3)
        var best: (name: String, distance: Int)?
        for candidate in candidates {
            let other = Array(candidate.lowercased())
            // The distance is at least the difference in length.
            guard abs(other.count - wanted.count) <= limit else { continue }
            let distance = editDistance(wanted, other)
            if distance <= limit, distance < best?.distance ?? .max { best = (candidate, distance) }
        }
        return best?.name
    }

    /// The optimal-string-alignment distance: insertions, deletions, substitutions and swaps of neighbours.
    static func editDistance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty || b.isEmpty { return max(a.count, b.count) }
        var before = [Int](repeating: 0, count: b.count + 1)
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    current[j] = min(current[j], before[j - 2] + 1)
                }
            }
            (before, previous, current) = (previous, current, before)
        }
        return previous[b.count]
    }

    private static func format(prefix: String, _ path: [any CodingKey]) -> String {
        path.reduce(prefix) { text, key in
            key.intValue.map { text + "[\($0)]" } ?? join(text, key.stringValue)
        }
    }

    private static func join(_ parent: String, _ name: String) -> String { parent.isEmpty ? name : parent + "." + name }
}

/// The objects a `KeyRecordingDecoder` opened, with the keys each was asked for. One per check, never shared.
private final class KeyLog {
    struct Object {
        var path: [any CodingKey]
        var members: [String: JSONValue]
        var asked: Set<String> = []
    }

    var objects: [Object] = []
}

private struct IndexKey: CodingKey {
    var stringValue: String { "\(intValue ?? 0)" }
    var intValue: Int?
    init(_ index: Int) { intValue = index }
    init?(stringValue: String) { nil }
    init?(intValue: Int) { self.intValue = intValue }
}

/// A `Decoder` over a parsed `JSONValue` that logs the keys every object is asked for. Values it hands out are
/// only good enough for the walk to go on (a `Decimal` goes through `Double`); they are never kept.
private struct KeyRecordingDecoder: Decoder {
    let value: JSONValue
    let codingPath: [any CodingKey]
    let log: KeyLog
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    init(value: JSONValue, path: [any CodingKey], log: KeyLog) {
        self.value = value
        self.codingPath = path
        self.log = log
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .object(let members) = value else { throw mismatch([String: JSONValue].self) }
        log.objects.append(KeyLog.Object(path: codingPath, members: members))
        return KeyedDecodingContainer(Keyed<Key>(decoder: self, members: members, index: log.objects.count - 1))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .array(let elements) = value else { throw mismatch([JSONValue].self) }
        return Unkeyed(decoder: self, elements: elements)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { Single(decoder: self) }

    func child(_ value: JSONValue, _ key: any CodingKey) -> KeyRecordingDecoder {
        KeyRecordingDecoder(value: value, path: codingPath + [key], log: log)
    }

    func mismatch(_ type: Any.Type) -> DecodingError {
        .typeMismatch(type, .init(codingPath: codingPath, debugDescription: "not \(value.kind)"))
    }

    /// This value as `T`: scalars directly, anything else through its `init(from:)`.
    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let scalar: Any?
        switch value {
        case .string(let text): scalar = T.self == String.self ? text : nil
        case .bool(let flag): scalar = T.self == Bool.self ? flag : nil
        case .number(let number):
            switch T.self {
            case is Decimal.Type: scalar = Decimal(number)
            case is Double.Type: scalar = number
            case is Float.Type: scalar = Float(number)
            // The number went through `Double`: 9223372036854775807, which `JSONDecoder` read as an `Int64`, is
            // 2^63 here. Any value of the type lets the walk go on; it is never kept.
            case let integer as any BinaryInteger.Type: scalar = integer.init(exactly: number) ?? integer.zero
            default: scalar = nil
            }
        default: scalar = nil
        }
        if let scalar = scalar as? T { return scalar }
        // A scalar type's `init(from:)` asks this decoder for itself again: it would recurse without end.
        if Self.isScalar(T.self) { throw mismatch(T.self) }
        return try T(from: self)
    }

    private static func isScalar(_ type: Any.Type) -> Bool {
        type == String.self || type == Bool.self || type == Decimal.self || type is any BinaryInteger.Type
            || type is any BinaryFloatingPoint.Type
    }

    struct Keyed<Key: CodingKey>: KeyedDecodingContainerProtocol {
        let decoder: KeyRecordingDecoder
        let members: [String: JSONValue]
        let index: Int
        var codingPath: [any CodingKey] { decoder.codingPath }
        var allKeys: [Key] {
            members.keys.compactMap { name in
                decoder.log.objects[index].asked.insert(name)
                return Key(stringValue: name)
            }
        }

        func contains(_ key: Key) -> Bool { member(key) != nil }

        func member(_ key: Key) -> JSONValue? {
            decoder.log.objects[index].asked.insert(key.stringValue)
            return members[key.stringValue]
        }

        func child(_ key: Key) throws -> KeyRecordingDecoder {
            guard let value = member(key) else {
                throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "missing"))
            }
            return decoder.child(value, key)
        }

        func decodeNil(forKey key: Key) throws -> Bool { member(key) == nil || member(key) == .null }
        func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { try child(key).decode(type) }
        func nestedContainer<NestedKey: CodingKey>(
            keyedBy type: NestedKey.Type, forKey key: Key
        ) throws -> KeyedDecodingContainer<NestedKey> { try child(key).container(keyedBy: type) }
        func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
            try child(key).unkeyedContainer()
        }
        func superDecoder() throws -> any Decoder { decoder }
        func superDecoder(forKey key: Key) throws -> any Decoder { try child(key) }
    }

    struct Unkeyed: UnkeyedDecodingContainer {
        let decoder: KeyRecordingDecoder
        let elements: [JSONValue]
        var currentIndex = 0
        var codingPath: [any CodingKey] { decoder.codingPath }
        var count: Int? { elements.count }
        var isAtEnd: Bool { currentIndex >= elements.count }

        mutating func next() throws -> KeyRecordingDecoder {
            guard !isAtEnd else {
                throw DecodingError.valueNotFound(
                    JSONValue.self, .init(codingPath: codingPath, debugDescription: "no more elements"))
            }
            defer { currentIndex += 1 }
            return decoder.child(elements[currentIndex], IndexKey(currentIndex))
        }

        mutating func decodeNil() throws -> Bool {
            guard !isAtEnd, elements[currentIndex] == .null else { return false }
            currentIndex += 1
            return true
        }
        mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try next().decode(type) }
        mutating func nestedContainer<NestedKey: CodingKey>(
            keyedBy type: NestedKey.Type
        ) throws -> KeyedDecodingContainer<NestedKey> { try next().container(keyedBy: type) }
        mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
            try next().unkeyedContainer()
        }
        mutating func superDecoder() throws -> any Decoder { try next() }
    }

    struct Single: SingleValueDecodingContainer {
        let decoder: KeyRecordingDecoder
        var codingPath: [any CodingKey] { decoder.codingPath }
        func decodeNil() -> Bool { decoder.value == .null }
        func decode<T: Decodable>(_ type: T.Type) throws -> T { try decoder.decode(type) }
    }
}
