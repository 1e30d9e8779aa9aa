import Foundation
import Glibc

/// A pinned environment that scoring programs can run in: the image name a challenge names, and the directory on
/// this evaluator holding that image's root file system (built ahead, e.g. by `deploy/images/*.sh`).
///
/// The root file system is used as it is, read-only, by every run (`ContainerRunner`); nothing is pulled or
/// unpacked at run time. Thread rule: an immutable value; any thread may use it.
public struct ContainerEnvironment: Sendable, Equatable {
    /// The image name as a challenge names it, e.g. `codalab/codalab-legacy:py37`.
    public let name: String
    /// The absolute path of the environment's root file system.
    public let rootfs: String

    /// Creates an environment without checking it (`ContainerRunner` checks the root file system on each run).
    public init(name: String, rootfs: String) {
        self.name = name
        self.rootfs = rootfs
    }

    /// Why an evaluator's `NAME=DIR` value was refused.
    public struct InvalidValue: Error, Sendable, Equatable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// Reads an evaluator flag's value `NAME=DIR`: the image name, then the directory holding its root file system.
    ///
    /// The name is split off at the first `=` (image names have none); it must be non-empty and printable, without
    /// whitespace. The directory must exist and be a directory; a relative one is made absolute against the
    /// current directory.
    /// - Throws: `InvalidValue` saying which part is wrong.
    public static func parse(_ value: String) throws(InvalidValue) -> ContainerEnvironment {
        guard let equals = value.firstIndex(of: "=") else {
            throw InvalidValue(message: "\(ScoringText.quoted(value)) is not NAME=DIR (an image name, =, a directory)")
        }
        let name = String(value[..<equals])
        let directory = String(value[value.index(after: equals)...])
        guard !name.isEmpty else {
            throw InvalidValue(message: "\(ScoringText.quoted(value)) has no image name before the =")
        }
        let printable = name.unicodeScalars.allSatisfy { scalar in
            !scalar.properties.isWhitespace && scalar.properties.generalCategory != .control
                && scalar.properties.generalCategory != .format && scalar.properties.generalCategory != .unassigned
        }
        guard printable else {
            throw InvalidValue(
                message: "the image name \(ScoringText.quoted(name)) has whitespace or unprintable characters")
        }
        guard !directory.isEmpty else {
            throw InvalidValue(message: "\(ScoringText.quoted(value)) has no directory after the =")
        }
        guard !directory.contains("\0") else {
            throw InvalidValue(message: "the directory of \(ScoringText.quoted(name)) contains a NUL byte")
        }
        let path = PluginRunner.absolute(directory)
        switch PluginRunner.fileType(path) {
        case nil:
            throw InvalidValue(message: "the root file system \(path) of \(name) does not exist")
        case S_IFDIR?:
            return ContainerEnvironment(name: name, rootfs: path)
        default:
            throw InvalidValue(message: "the root file system \(path) of \(name) is not a directory")
        }
    }
}
