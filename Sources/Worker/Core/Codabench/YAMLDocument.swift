internal import CYAML
import Foundation

/// A YAML text read by libyaml's event parser into a `YAMLNode` tree.
///
/// Only the first document is read; a text with none (empty, or only comments) is a null scalar. Anchors and aliases
/// are resolved by copying the anchored node, with the whole tree's node count capped so that an alias bomb
/// ("billion laughs") fails instead of expanding; an alias to an anchor whose node is not finished (a recursive
/// alias) is an unknown alias. Mapping keys must be scalars, read as text (`1:` is the key "1"). Tags are ignored,
/// except that an explicitly tagged scalar is never read as null. Merge keys (`<<`) are ordinary keys.
///
/// Stateless; any thread may call it. Each call owns its libyaml parser and frees it before returning.
struct YAMLDocument {
    /// The document's root node.
    var root: YAMLNode

    /// Caps on what one text may hold.
    struct Limits: Sendable, Equatable {
        /// Most bytes of text. Default 4 MiB.
        var bytes = 4 << 20
        /// Most nodes once aliases are expanded, keys included. Default 100,000.
        var nodes = 100_000
        /// Deepest nesting of sequences and mappings. Default 64.
        var depth = 64
    }

    /// Why a text could not be read: libyaml's problem, or a limit or rule of this reader, with where it was found.
    struct Failure: Error, Equatable, CustomStringConvertible {
        /// What is wrong, e.g. "found unexpected end of stream".
        var problem: String
        /// What the parser was doing, e.g. "while scanning a quoted scalar"; empty if libyaml gives none.
        var context = ""
        /// The 1-based line and column of the problem; nil if libyaml gives only a byte offset or no position.
        var line: Int?
        var column: Int?
        /// The 1-based line and column where the context began (a quoted scalar's opening quote, say).
        var contextLine: Int?
        var contextColumn: Int?

        var description: String {
            var text = problem
            if let line, let column { text += " at line \(line), column \(column)" }
            if !context.isEmpty {
                text += " (\(context)"
                if let contextLine, let contextColumn {
                    text += " that began at line \(contextLine), column \(contextColumn)"
                }
                text += ")"
            }
            return text
        }
    }

    /// Reads `text`.
    /// - Throws: `Failure` for text that is not valid YAML, too large, nested too deep, expands to too many nodes,
    ///   has an unknown alias or a mapping key that is not a scalar.
    init(parsing text: String, limits: Limits = Limits()) throws(Failure) {
        guard text.utf8.count <= limits.bytes else {
            throw Failure(problem: "the text is \(text.utf8.count) bytes, more than the limit of \(limits.bytes)")
        }
        guard !text.isEmpty else {
            root = .scalar("")
            return
        }
        var copy = text
        let result = copy.withUTF8 { bytes in
            var builder = YAMLTreeBuilder(limits: limits)
            return Result { () throws(Failure) in try builder.read(bytes) }
        }
        root = try result.get()
    }
}

/// One libyaml parser, owned by one `YAMLTreeBuilder.read` call, deleted in `deinit`.
private struct YAMLParser: ~Copyable {
    /// Heap-allocated so that the parser never moves after `yaml_parser_initialize`.
    let handle: UnsafeMutablePointer<yaml_parser_t>

    /// A parser reading `bytes`, which must not be empty and must outlive it.
    init(_ bytes: UnsafeBufferPointer<UInt8>) throws(YAMLDocument.Failure) {
        guard let start = bytes.baseAddress else { throw YAMLDocument.Failure(problem: "the text is empty") }
        let parser = UnsafeMutablePointer<yaml_parser_t>.allocate(capacity: 1)
        guard yaml_parser_initialize(parser) == 1 else {
            parser.deallocate()
            throw YAMLDocument.Failure(problem: "libyaml could not allocate a parser")
        }
        handle = parser
        // No encoding is set: libyaml's detection is what skips a leading byte order mark.
        yaml_parser_set_input_string(handle, start, bytes.count)
    }

    deinit {
        yaml_parser_delete(handle)
        handle.deallocate()
    }

    /// The parser's error, read right after a failed `yaml_parser_parse`.
    var failure: YAMLDocument.Failure {
        let parser = handle.pointee
        var failure = YAMLDocument.Failure(
            problem: parser.problem.map { String(cString: $0) } ?? "libyaml failed (error \(parser.error.rawValue))")
        if parser.error == YAML_READER_ERROR {
            failure.problem += " at byte \(parser.problem_offset)"
        } else {
            failure.line = Int(parser.problem_mark.line) + 1
            failure.column = Int(parser.problem_mark.column) + 1
        }
        if let context = parser.context {
            failure.context = String(cString: context)
            failure.contextLine = Int(parser.context_mark.line) + 1
            failure.contextColumn = Int(parser.context_mark.column) + 1
        }
        return failure
    }
}

/// Builds the tree from libyaml's events: a stack of open collections, the anchors seen, and the node count.
private struct YAMLTreeBuilder {
    /// A sequence or mapping being read.
    struct Open {
        var anchor: String?
        var isMapping: Bool
        var items: [YAMLNode] = []
        var entries: [(key: String, value: YAMLNode)] = []
        /// A mapping's key awaiting its value.
        var key: String?
        /// The nodes inside, this one included.
        var count = 1
    }

    let limits: YAMLDocument.Limits
    var stack: [Open] = []
    /// Each anchor's node and its node count; an anchor given again replaces the earlier one, as YAML says.
    var anchors: [String: (node: YAMLNode, count: Int)] = [:]
    /// Nodes read so far, aliases expanded.
    var total = 0
    var root: YAMLNode?

    init(limits: YAMLDocument.Limits) {
        self.limits = limits
    }

    /// The first document's root in `bytes`.
    mutating func read(_ bytes: UnsafeBufferPointer<UInt8>) throws(YAMLDocument.Failure) -> YAMLNode {
        let parser = try YAMLParser(bytes)
        var event = yaml_event_t()
        while true {
            guard yaml_parser_parse(parser.handle, &event) == 1 else { throw parser.failure }
            defer { yaml_event_delete(&event) }
            let mark = event.start_mark
            switch event.type {
            case YAML_STREAM_END_EVENT:
                return .scalar("")
            case YAML_DOCUMENT_END_EVENT:
                return root ?? .scalar("")
            case YAML_SCALAR_EVENT:
                let scalar = event.data.scalar
                var text = String(
                    decoding: UnsafeBufferPointer(start: scalar.value, count: scalar.length), as: UTF8.self)
                if scalar.plain_implicit != 0, ["", "~", "null", "Null", "NULL"].contains(text) { text = "" }
                try count(1, at: mark)
                try add(.scalar(text), count: 1, anchor: Self.text(scalar.anchor), at: mark)
            case YAML_ALIAS_EVENT:
                let name = Self.text(event.data.alias.anchor) ?? ""
                guard let anchored = anchors[name] else {
                    throw Self.failure("found unknown alias *\(name) (an anchor not defined before it)", at: mark)
                }
                try count(anchored.count, at: mark)
                try add(anchored.node, count: anchored.count, anchor: nil, at: mark)
            case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
                guard stack.count < limits.depth else {
                    throw Self.failure("the text nests deeper than the limit of \(limits.depth) levels", at: mark)
                }
                let anchor =
                    event.type == YAML_SEQUENCE_START_EVENT
                    ? Self.text(event.data.sequence_start.anchor) : Self.text(event.data.mapping_start.anchor)
                try count(1, at: mark)
                stack.append(Open(anchor: anchor, isMapping: event.type == YAML_MAPPING_START_EVENT))
            case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                guard let open = stack.popLast() else { continue }
                let node: YAMLNode = open.isMapping ? .mapping(open.entries) : .sequence(open.items)
                try add(node, count: open.count, anchor: open.anchor, at: mark)
            default:
                continue
            }
        }
    }

    /// Counts `nodes` more nodes against the limit.
    mutating func count(_ nodes: Int, at mark: yaml_mark_t) throws(YAMLDocument.Failure) {
        total += nodes
        guard total <= limits.nodes else {
            throw Self.failure(
                "the text expands to more than the limit of \(limits.nodes) nodes (aliases counted in full)", at: mark)
        }
    }

    /// Puts a finished node in the collection being read, or makes it the root.
    mutating func add(_ node: YAMLNode, count: Int, anchor: String?, at mark: yaml_mark_t) throws(YAMLDocument.Failure)
    {
        if let anchor { anchors[anchor] = (node, count) }
        guard var open = stack.popLast() else {
            root = node
            return
        }
        open.count += count
        if !open.isMapping {
            open.items.append(node)
        } else if let key = open.key {
            open.entries.append((key, node))
            open.key = nil
        } else if let key = node.string {
            open.key = key
        } else {
            throw Self.failure("found a mapping key that is a sequence or a mapping; keys must be scalars", at: mark)
        }
        stack.append(open)
    }

    static func text(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        pointer.map { String(cString: $0) }
    }

    static func failure(_ problem: String, at mark: yaml_mark_t) -> YAMLDocument.Failure {
        YAMLDocument.Failure(problem: problem, line: Int(mark.line) + 1, column: Int(mark.column) + 1)
    }
}
