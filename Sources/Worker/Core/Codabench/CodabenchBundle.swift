import Foundation
import Glibc

/// A Codabench or CodaLab competition bundle, read from its `competition.yaml` into one model whatever the bundle's
/// version: v2 (`version: 2`: tasks, phases naming tasks, leaderboards as a list) or v1 (no version, or 1, 1.5:
/// phases as a numbered mapping holding their programs and data, `html` pages, one `leaderboard` mapping).
///
/// The bundle is untrusted: every path it names must be relative, free of `..`, and stay inside the bundle once
/// symbolic links are followed; every path must exist. Texts (terms, pages) are read; programs and data are named
/// by their path relative to `root`, a directory or a zip as the bundle has them.
///
/// A value; `init` reads files and may be called from any thread, but not on the cooperative pool for large bundles.
struct CodabenchBundle: Equatable, Sendable {
    /// The directory holding `competition.yaml`: the unpacked bundle, or its single top-level folder.
    var root: String
    /// 2 for a v2 bundle, 1 for a v1 (CodaLab) bundle.
    var version: Int
    var title: String
    var description: String
    /// The logo image's path (`image`), if the bundle has one.
    var logo: String?
    /// The Docker image the programs expect (`docker_image` in v2, `competition_docker_image` in v1), if given.
    /// Codabench itself falls back to `codalab/codalab-legacy:py3` (v2) or `:py37` (v1).
    var dockerImage: String?
    /// The terms' text, if the bundle has terms.
    var terms: String?
    /// The pages in the bundle's order (v1: the `html` entries other than `terms`, titled by their key).
    var pages: [Page]
    /// The tasks by index (v1: one per phase, numbered from 0 in phase order).
    var tasks: [Task]
    /// The phases in order (v2: by `index` when given; v1: by `phasenumber`).
    var phases: [Phase]
    /// The first leaderboard's columns in their order (v2: `index`; v1: `rank`).
    var leaderboard: [Column]
    /// The solutions' paths (v2 only).
    var solutions: [String]

    struct Page: Equatable, Sendable {
        var title: String
        var text: String
    }

    /// A task: what a phase runs. Paths are relative to `root`.
    struct Task: Equatable, Sendable {
        var index: Int
        var name: String
        var scoringProgram: String?
        var ingestionProgram: String?
        var inputData: String?
        var referenceData: String?
    }

    /// A phase. Its programs and data are those of its first task; paths are relative to `root`.
    struct Phase: Equatable, Sendable {
        var name: String
        var description: String
        var start: Date?
        /// v1 phases have no end: as Codabench, a phase ends one day before the next one starts, and the last at
        /// the competition's `end_date`.
        var end: Date?
        var executionTimeLimitSeconds: Double?
        var maxSubmissions: Int?
        var maxSubmissionsPerDay: Int?
        /// The indexes of its tasks in `tasks`.
        var tasks: [Int]
        var scoringProgram: String?
        var ingestionProgram: String?
        var inputData: String?
        var referenceData: String?
        var publicData: String?
        var startingKit: String?
    }

    struct Column: Equatable, Sendable {
        /// The score's key in the scoring program's output.
        var key: String
        var title: String
        var sorting: Sorting
    }

    /// Which scores rank first: `desc` (the highest, Codabench's default) or `asc`.
    enum Sorting: String, Equatable, Sendable {
        case ascending = "asc"
        case descending = "desc"
    }

    /// Why a bundle could not be read.
    struct Failure: Error, Equatable, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    /// The largest `competition.yaml` read.
    static let yamlSizeLimit = 4 << 20
    /// The largest page or terms file read.
    static let textSizeLimit = 16 << 20

    /// Reads the bundle in the zip `archive`, unpacking it into `directory`, which must exist (and which the caller
    /// removes when done).
    /// - Throws: `Failure` if the archive cannot be unpacked or the bundle is invalid.
    init(archive: Data, unpackingInto directory: String, limits: ZipArchive.Limits = ZipArchive.Limits())
        throws(Failure)
    {
        do {
            try ZipArchive.unpack(archive, into: directory, limits: limits)
        } catch {
            throw Failure(message: "the bundle cannot be unpacked: \(error.message)")
        }
        try self.init(directory: directory)
    }

    /// Reads the bundle unpacked in `directory`, or in its single top-level folder.
    /// - Throws: `Failure` naming the problem: no `competition.yaml`, invalid YAML, a missing or escaping path, a
    ///   phase naming a task the bundle lacks, a value of the wrong kind.
    init(directory: String) throws(Failure) {
        let reader = try BundleReader(root: Self.root(in: directory))
        let name = Self.yamlName(in: reader.root) ?? "competition.yaml"
        let yaml = try reader.text(ofFile: name, field: name, limit: Self.yamlSizeLimit)
        let document: YAMLNode
        do {
            document = try YAMLDocument(parsing: yaml, limits: YAMLDocument.Limits(bytes: Self.yamlSizeLimit)).root
        } catch {
            throw Failure(message: "competition.yaml is not valid YAML: \(error)")
        }
        guard document.mapping != nil else {
            throw Failure(
                message: document.isNull
                    ? "competition.yaml is empty" : "competition.yaml is not a mapping of settings at its top level")
        }
        self = try Self.read(document, reader: reader)
    }

    /// A v1 bundle with no pages, phases or columns yet.
    private init(root: String, title: String, description: String) {
        (self.root, version, self.title, self.description) = (root, 1, title, description)
        (pages, tasks, phases, leaderboard, solutions) = ([], [], [], [], [])
    }

    private static func read(_ yaml: YAMLNode, reader: BundleReader) throws(Failure) -> CodabenchBundle {
        guard let title = try reader.string(yaml["title"], field: "title"), !title.isEmpty else {
            throw Failure(message: "competition.yaml has no title")
        }
        var bundle = CodabenchBundle(
            root: reader.root, title: title,
            description: try reader.string(yaml["description"], field: "description") ?? "")
        bundle.logo = try reader.path(yaml["image"], field: "image")
        switch yaml["version"]?.string ?? "" {
        case "2", "2.0":
            bundle.version = 2
            try bundle.readVersion2(yaml, reader: reader)
        case "", "1", "1.0", "1.5", "1.8":
            try bundle.readVersion1(yaml, reader: reader)
        case let other:
            throw Failure(message: "competition.yaml has version \(other); only versions 1 (CodaLab) and 2 are read")
        }
        return bundle
    }

    /// The directory holding the bundle's YAML: `directory`, or its one folder (apart from `__MACOSX` and hidden
    /// entries, and not a symbolic link) when `directory` has no `competition.yaml` of its own.
    private static func root(in directory: String) throws(Failure) -> String {
        if yamlName(in: directory) != nil { return directory }
        let entries = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
            .filter { !$0.hasPrefix(".") && $0 != "__MACOSX" }
        var info = stat()
        // lstat: a top-level link to a folder elsewhere would make that folder the bundle.
        if entries.count == 1, lstat(directory + "/" + entries[0], &info) == 0, info.st_mode & S_IFMT == S_IFDIR,
            yamlName(in: directory + "/" + entries[0]) != nil
        {
            return directory + "/" + entries[0]
        }
        throw Failure(message: "the bundle has no competition.yaml at its top level or in a single top-level folder")
    }

    private static func yamlName(in directory: String) -> String? {
        ["competition.yaml", "competition.yml"].first { PluginRunner.fileType(directory + "/" + $0) == S_IFREG }
    }
}
