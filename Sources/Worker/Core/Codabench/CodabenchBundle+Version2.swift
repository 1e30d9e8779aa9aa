import Foundation

extension CodabenchBundle {
    /// Reads a v2 `competition.yaml`: `docker_image`, `terms`, `pages`, `tasks`, `solutions`, `phases` naming
    /// tasks by index, and `leaderboards`.
    mutating func readVersion2(_ yaml: YAMLNode, reader: BundleReader) throws(Failure) {
        dockerImage = try reader.string(yaml["docker_image"], field: "docker_image").flatMap { $0.isEmpty ? nil : $0 }
        terms = try reader.textFile(yaml["terms"], field: "terms")
        for (position, page) in try reader.list(yaml["pages"], field: "pages").enumerated() {
            let field = "page \(position + 1)"
            guard let text = try reader.textFile(page["file"], field: field + " file") else {
                throw Failure(message: "\(field) has no file")
            }
            pages.append(Page(title: try reader.string(page["title"], field: field + " title") ?? "", text: text))
        }
        for (position, task) in try reader.list(yaml["tasks"], field: "tasks").enumerated() {
            tasks.append(try Self.task(task, position: position, reader: reader))
            if tasks.dropLast().contains(where: { $0.index == tasks[tasks.count - 1].index }) {
                throw Failure(message: "two tasks have index \(tasks[tasks.count - 1].index)")
            }
        }
        for (position, solution) in try reader.list(yaml["solutions"], field: "solutions").enumerated() {
            let field = "solution \(try reader.int(solution["index"], field: "solution index") ?? position)"
            for index in try Self.indexes(solution["tasks"], field: field + " tasks", reader: reader) {
                guard tasks.contains(where: { $0.index == index }) else {
                    throw Failure(message: "\(field) names task \(index), which the bundle does not define")
                }
            }
            guard let path = try reader.path(solution["path"], field: field + " path") else {
                throw Failure(message: "\(field) has no path (a solution naming a Codabench key is not supported)")
            }
            solutions.append(path)
        }
        let listed = try reader.list(yaml["phases"], field: "phases")
        guard !listed.isEmpty else { throw Failure(message: "competition.yaml has no phases") }
        var ordered: [(index: Int, node: YAMLNode)] = []
        for (position, phase) in listed.enumerated() {
            ordered.append((try reader.int(phase["index"], field: "phase \(position + 1) index") ?? 0, phase))
        }
        // Codabench sorts phases by index (0 when missing), keeping the file's order for equal indexes.
        for (position, entry) in ordered.enumerated().sorted(by: { ($0.1.index, $0.0) < ($1.1.index, $1.0) }) {
            phases.append(try phase(entry.node, position: position, reader: reader))
        }
        let boards = try reader.list(yaml["leaderboards"], field: "leaderboards")
        if let first = boards.first {
            leaderboard = try Self.columns(first["columns"], reader: reader)
        }
    }

    private static func task(_ node: YAMLNode, position: Int, reader: BundleReader) throws(Failure) -> Task {
        guard let index = try reader.int(node["index"], field: "task \(position + 1) index") else {
            throw Failure(message: "task \(position + 1) has no index")
        }
        let field = "task \(index)"
        guard node["key"] == nil else {
            throw Failure(
                message: "\(field) refers to a task on a Codabench server by key, which a bundle alone cannot supply")
        }
        let task = Task(
            index: index, name: try reader.string(node["name"], field: field + " name") ?? "",
            scoringProgram: try reader.path(node["scoring_program"], field: field + " scoring_program"),
            ingestionProgram: try reader.path(node["ingestion_program"], field: field + " ingestion_program"),
            inputData: try reader.path(node["input_data"], field: field + " input_data"),
            referenceData: try reader.path(node["reference_data"], field: field + " reference_data"))
        guard task.scoringProgram != nil else { throw Failure(message: "\(field) has no scoring_program") }
        return task
    }

    private func phase(_ node: YAMLNode, position: Int, reader: BundleReader) throws(Failure) -> Phase {
        let name = try reader.string(node["name"], field: "phase \(position + 1) name") ?? ""
        let field = "phase \(position + 1)" + (name.isEmpty ? "" : " (\(name))")
        let indexes = try Self.indexes(node["tasks"], field: field + " tasks", reader: reader)
        guard !indexes.isEmpty else { throw Failure(message: "\(field) names no task") }
        var tasksRun: [Task] = []
        for index in indexes {
            guard let task = tasks.first(where: { $0.index == index }) else {
                throw Failure(message: "\(field) names task \(index), which the bundle does not define")
            }
            tasksRun.append(task)
        }
        let task = tasksRun[0]
        var limit = try reader.double(node["execution_time_limit"], field: field + " execution_time_limit")
        if let milliseconds = try reader.double(
            node["execution_time_limit_ms"], field: field + " execution_time_limit_ms")
        {
            limit = milliseconds / 1000
        }
        return Phase(
            name: name, description: try reader.string(node["description"], field: field + " description") ?? "",
            start: try reader.date(node["start"], field: field + " start"),
            end: try reader.date(node["end"], field: field + " end"), executionTimeLimitSeconds: limit,
            maxSubmissions: try reader.int(node["max_submissions"], field: field + " max_submissions"),
            maxSubmissionsPerDay: try reader.int(
                node["max_submissions_per_day"], field: field + " max_submissions_per_day"),
            tasks: indexes, scoringProgram: task.scoringProgram, ingestionProgram: task.ingestionProgram,
            inputData: task.inputData, referenceData: task.referenceData,
            publicData: try reader.path(node["public_data"], field: field + " public_data"),
            startingKit: try reader.path(node["starting_kit"], field: field + " starting_kit"))
    }

    /// A list of task indexes (a single index is read as a list of one).
    private static func indexes(_ node: YAMLNode?, field: String, reader: BundleReader) throws(Failure) -> [Int] {
        if let node, node.string != nil, !node.isNull { return [try reader.int(node, field: field)].compactMap { $0 } }
        var indexes: [Int] = []
        for item in try reader.list(node, field: field) {
            guard let index = try reader.int(item, field: field) else {
                throw Failure(message: "\(field) has an empty item")
            }
            indexes.append(index)
        }
        return indexes
    }

    /// A v2 leaderboard's columns, by `index` (the file's order for columns without one).
    private static func columns(_ node: YAMLNode?, reader: BundleReader) throws(Failure) -> [Column] {
        var columns: [(index: Int, column: Column)] = []
        for (position, item) in try reader.list(node, field: "leaderboard columns").enumerated() {
            let field = "leaderboard column \(position + 1)"
            guard let key = try reader.string(item["key"], field: field + " key"), !key.isEmpty else {
                throw Failure(message: "\(field) has no key")
            }
            let column = Column(
                key: key, title: try reader.string(item["title"], field: field + " title") ?? key,
                sorting: try sorting(item["sorting"], field: "leaderboard column \(key) sorting", reader: reader))
            columns.append((try reader.int(item["index"], field: field + " index") ?? position, column))
        }
        return columns.enumerated().sorted { ($0.1.index, $0.0) < ($1.1.index, $1.0) }.map(\.element.column)
    }

    /// `asc` or `desc` (the default).
    static func sorting(_ node: YAMLNode?, field: String, reader: BundleReader) throws(Failure) -> Sorting {
        guard let text = try reader.string(node, field: field) else { return .descending }
        guard let sorting = Sorting(rawValue: text.lowercased()) else {
            throw Failure(message: "\(field) must be \"asc\" or \"desc\", not \"\(text)\"")
        }
        return sorting
    }
}
