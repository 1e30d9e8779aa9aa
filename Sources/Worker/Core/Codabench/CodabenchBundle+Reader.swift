import Foundation
import Glibc

extension CodabenchBundle {
    /// Reads values out of a bundle's YAML, checking each path it names against the bundle's directory.
    struct BundleReader {
        /// The bundle's directory as given.
        let root: String
        /// The same directory with symbolic links resolved, which every path must stay inside.
        let realRoot: String

        init(root: String) throws(Failure) {
            guard let real = Self.realPath(root) else {
                throw Failure(message: "the bundle directory \(root) cannot be read")
            }
            self.root = root
            realRoot = real
        }

        /// The path named by `node`, relative to the root and tidied (no `.`, no trailing `/`); nil if absent or
        /// null.
        /// - Throws: if it is not text, is absolute, names `..`, escapes the bundle through a link, or does not
        ///   exist.
        func path(_ node: YAMLNode?, field: String) throws(Failure) -> String? {
            guard let node, !node.isNull else { return nil }
            guard let text = node.string else {
                throw Failure(message: "\(field) must be a path, not a list or a mapping")
            }
            guard !text.hasPrefix("/"), !text.hasPrefix("~") else {
                throw Failure(message: "\(field) \"\(text)\" is an absolute path; bundle paths are relative to it")
            }
            let components = text.split(separator: "/", omittingEmptySubsequences: true).filter { $0 != "." }
            guard !components.contains("..") else {
                throw Failure(message: "\(field) \"\(text)\" names \"..\"; bundle paths must stay inside it")
            }
            guard !components.isEmpty, !text.contains("\0") else {
                throw Failure(message: "\(field) \"\(text)\" names no file")
            }
            let relative = components.joined(separator: "/")
            guard let real = Self.realPath(root + "/" + relative) else {
                throw Failure(message: "\(field) \"\(text)\" does not exist in the bundle")
            }
            guard real == realRoot || real.hasPrefix(realRoot == "/" ? "/" : realRoot + "/") else {
                throw Failure(message: "\(field) \"\(text)\" leads outside the bundle through a symbolic link")
            }
            return relative
        }

        /// The text of the file named by `node`; nil if absent or null.
        func textFile(_ node: YAMLNode?, field: String) throws(Failure) -> String? {
            guard let relative = try path(node, field: field) else { return nil }
            return try text(ofFile: relative, field: field, limit: CodabenchBundle.textSizeLimit)
        }

        /// The text of the regular file at `relative`, which must stay inside the bundle.
        func text(ofFile relative: String, field: String, limit: Int) throws(Failure) -> String {
            guard let checked = try path(.scalar(relative), field: field) else {
                throw Failure(message: "\(field) names no file")
            }
            let full = root + "/" + checked
            guard PluginRunner.fileType(full) == S_IFREG else {
                throw Failure(message: "\(field) \"\(relative)\" is not a file")
            }
            guard let data = FileManager.default.contents(atPath: full) else {
                throw Failure(message: "\(field) \"\(relative)\" cannot be read")
            }
            guard data.count <= limit else {
                throw Failure(
                    message: "\(field) \"\(relative)\" is \(data.count) bytes, more than the limit of \(limit)")
            }
            return String(decoding: data, as: UTF8.self)
        }

        /// A scalar's text; nil if absent or null.
        func string(_ node: YAMLNode?, field: String) throws(Failure) -> String? {
            guard let node, !node.isNull else { return nil }
            guard let text = node.string else {
                throw Failure(message: "\(field) must be text, not a list or a mapping")
            }
            return text
        }

        /// A whole number; nil if absent or null.
        func int(_ node: YAMLNode?, field: String) throws(Failure) -> Int? {
            guard let text = try string(node, field: field) else { return nil }
            guard let value = node?.int else {
                throw Failure(message: "\(field) must be a whole number, not \"\(text)\"")
            }
            return value
        }

        /// A finite number; nil if absent or null.
        func double(_ node: YAMLNode?, field: String) throws(Failure) -> Double? {
            guard let text = try string(node, field: field) else { return nil }
            guard let value = node?.double, value.isFinite else {
                throw Failure(message: "\(field) must be a number, not \"\(text)\"")
            }
            return value
        }

        /// A date in one of Codabench's forms; nil if absent or null.
        func date(_ node: YAMLNode?, field: String) throws(Failure) -> Date? {
            guard let text = try string(node, field: field) else { return nil }
            guard let date = CodabenchDate.parse(text) else {
                throw Failure(
                    message: "\(field) \"\(text)\" is not a date (year-month-day or month-day-year, with an optional "
                        + "time and UTC offset)")
            }
            return date
        }

        /// A sequence's items; empty if absent or null.
        func list(_ node: YAMLNode?, field: String) throws(Failure) -> [YAMLNode] {
            guard let node, !node.isNull else { return [] }
            guard let items = node.sequence else { throw Failure(message: "\(field) must be a list") }
            return items
        }

        /// A mapping's entries; empty if absent or null.
        func entries(_ node: YAMLNode?, field: String) throws(Failure) -> [(key: String, value: YAMLNode)] {
            guard let node, !node.isNull else { return [] }
            guard let entries = node.mapping else { throw Failure(message: "\(field) must be a mapping") }
            return entries
        }

        /// `path` with every symbolic link resolved; nil if it does not exist.
        static func realPath(_ path: String) -> String? {
            guard let resolved = realpath(path, nil) else { return nil }
            defer { free(resolved) }
            return String(cString: resolved)
        }
    }
}
