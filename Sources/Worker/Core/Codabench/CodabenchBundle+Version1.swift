import Foundation

extension CodabenchBundle {
    /// Reads a v1 (CodaLab) `competition.yaml` as Codabench converts one: `competition_docker_image`, `html` pages
    /// (`terms` among them), `phases` as a mapping ordered by `phasenumber`, each holding its own programs and data
    /// (one task per phase), and a `leaderboard` whose columns name their leaderboard.
    mutating func readVersion1(_ yaml: YAMLNode, reader: BundleReader) throws(Failure) {
        dockerImage = try reader.string(yaml["competition_docker_image"], field: "competition_docker_image")
            .flatMap { $0.isEmpty ? nil : $0 }
        for (key, file) in try reader.entries(yaml["html"], field: "html") {
            guard let text = try reader.textFile(file, field: "html \(key)") else { continue }
            if key == "terms" {
                terms = text
            } else {
                pages.append(Page(title: key, text: text))
            }
        }
        var numbered: [(number: Int, node: YAMLNode)] = []
        for (key, phase) in try reader.entries(yaml["phases"], field: "phases") {
            guard phase.mapping != nil else { throw Failure(message: "phase \(key) must be a mapping") }
            guard let number = try reader.int(phase["phasenumber"], field: "phase \(key) phasenumber") else {
                throw Failure(message: "phase \(key) has no phasenumber")
            }
            numbered.append((number, phase))
        }
        guard !numbered.isEmpty else { throw Failure(message: "competition.yaml has no phases") }
        numbered.sort { $0.number < $1.number }
        for (position, entry) in numbered.enumerated() {
            try readPhase(entry.node, number: entry.number, position: position, reader: reader)
        }
        // A v1 phase has no end: it ends a day before the next one starts; the last at the competition's end.
        let competitionEnd = try reader.date(yaml["end_date"], field: "end_date")
        for position in phases.indices {
            phases[position].end =
                position + 1 < phases.count
                ? phases[position + 1].start.map { $0.addingTimeInterval(-86_400) } : competitionEnd
        }
        leaderboard = try Self.version1Columns(yaml["leaderboard"], reader: reader)
    }

    private mutating func readPhase(_ node: YAMLNode, number: Int, position: Int, reader: BundleReader)
        throws(Failure)
    {
        let field = "phase \(number)"
        let name = try reader.string(node["label"], field: field + " label") ?? ""
        let task = Task(
            index: position, name: name + " Task",
            scoringProgram: try reader.path(node["scoring_program"], field: field + " scoring_program"),
            ingestionProgram: try reader.path(node["ingestion_program"], field: field + " ingestion_program"),
            inputData: try reader.path(node["input_data"], field: field + " input_data"),
            referenceData: try reader.path(node["reference_data"], field: field + " reference_data"))
        tasks.append(task)
        phases.append(
            Phase(
                name: name, description: try reader.string(node["description"], field: field + " description") ?? "",
                start: try reader.date(node["start_date"], field: field + " start_date"), end: nil,
                executionTimeLimitSeconds: try reader.double(
                    node["execution_time_limit"], field: field + " execution_time_limit"),
                maxSubmissions: try reader.int(node["max_submissions"], field: field + " max_submissions"),
                maxSubmissionsPerDay: try reader.int(
                    node["max_submissions_per_day"], field: field + " max_submissions_per_day"),
                tasks: [position], scoringProgram: task.scoringProgram, ingestionProgram: task.ingestionProgram,
                inputData: task.inputData, referenceData: task.referenceData,
                publicData: try reader.path(node["public_data"], field: field + " public_data"),
                startingKit: try reader.path(node["starting_kit"], field: field + " starting_kit")))
    }

    /// The columns of the first of `leaderboard.leaderboards`: those whose `leaderboard` has its label (compared
    /// without case, as Codabench does), by `rank` (1 when missing; the file's order among equal ranks).
    private static func version1Columns(_ node: YAMLNode?, reader: BundleReader) throws(Failure) -> [Column] {
        guard let node, !node.isNull else { return [] }
        guard let (name, board) = try reader.entries(node["leaderboards"], field: "leaderboard leaderboards").first
        else { return [] }
        let label = (try reader.string(board["label"], field: "leaderboard \(name) label") ?? name).lowercased()
        var ranked: [(rank: Int, column: Column)] = []
        for (key, column) in try reader.entries(node["columns"], field: "leaderboard columns") {
            let field = "leaderboard column \(key)"
            let owner = column["leaderboard"]
            let ownerLabel = try reader.string(owner?["label"], field: field + " leaderboard label") ?? ""
            guard ownerLabel.lowercased() == label else { continue }
            let entry = Column(
                key: key, title: try reader.string(column["label"], field: field + " label") ?? key,
                sorting: try sorting(column["sort"], field: field + " sort", reader: reader))
            ranked.append((try reader.int(column["rank"], field: field + " rank") ?? 1, entry))
        }
        return ranked.enumerated().sorted { ($0.1.rank, $0.0) < ($1.1.rank, $1.0) }.map(\.element.column)
    }
}
