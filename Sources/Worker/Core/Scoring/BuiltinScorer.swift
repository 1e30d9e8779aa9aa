import Foundation
import PumasiShared

/// The scorers built into the worker: exact answers, numeric answers within a tolerance, and CSV predictions
/// joined to a CSV reference by id (accuracy, RMSE, MAE).
///
/// All functions are pure and thread-safe. Options are strings; `reference` (every scorer) names the reference
/// file, defaulting to the only one when there is exactly one.
public enum BuiltinScorer {
    /// The scorers, by the name a challenge uses to pick one.
    enum Kind: String, CaseIterable, Sendable {
        case exact
        case numericTolerance = "numeric-tolerance"
        case csvAccuracy = "csv-accuracy"
        case csvRMSE = "csv-rmse"
        case csvMAE = "csv-mae"

        /// Options this scorer accepts, besides `reference` (listed in Shared, where posts are checked too).
        var optionNames: [String] { BuiltinScorers.optionNames(of: rawValue) ?? [] }

        var higherIsBetter: Bool {
            switch self {
            case .exact, .numericTolerance, .csvAccuracy: true
            case .csvRMSE, .csvMAE: false
            }
        }
    }

    /// The builtin scorer names: `exact`, `numeric-tolerance`, `csv-accuracy`, `csv-rmse`, `csv-mae`.
    public static let names: [String] = Kind.allCases.map(\.rawValue)

    /// Whether a scorer ranks best by higher scores (exact, numeric-tolerance, csv-accuracy) or lower (csv-rmse,
    /// csv-mae).
    /// - Returns: nil for an unknown scorer name.
    public static func higherIsBetter(_ name: String) -> Bool? {
        Kind(rawValue: name)?.higherIsBetter
    }

    /// Validates the options for a scorer.
    /// - Returns: a message naming the unknown scorer or the unknown or invalid option, or nil if all is well.
    public static func validate(name: String, options: [String: String]) -> String? {
        guard let kind = Kind(rawValue: name) else {
            return "unknown scorer \(ScoringText.quoted(name)); builtin scorers are \(names.joined(separator: ", "))"
        }
        let allowed = ["reference"] + kind.optionNames
        for key in options.keys.sorted() {
            guard allowed.contains(key) else {
                return "unknown option \(ScoringText.quoted(key)) for scorer \(name); "
                    + "it accepts \(allowed.joined(separator: ", "))"
            }
        }
        for (key, value) in options.sorted(by: { $0.key < $1.key }) {
            if let problem = optionProblem(key: key, value: value) {
                return "option \(key)=\(ScoringText.quoted(value)) is invalid: \(problem)"
            }
        }
        if kind.optionNames.contains("id"), let id = options["id"], let target = options["target"],
            id.trimmingCharacters(in: .whitespaces) == target.trimmingCharacters(in: .whitespaces)
        {
            return "options id and target name the same column \(ScoringText.quoted(id))"
        }
        return nil
    }

    /// Scores one submission against the challenge's reference data.
    /// - Parameters:
    ///   - name: a builtin scorer name.
    ///   - options: the scorer's options.
    ///   - submission: the solver's file.
    ///   - reference: reference file name → contents.
    /// - Throws: `bad_options`, `bad_reference` or `bad_submission`, with a message naming the problem.
    public static func score(
        name: String, options: [String: String], submission: Data, reference: [String: Data]
    ) throws(ScoringFailure) -> ScoreOutcome {
        if let problem = validate(name: name, options: options) {
            throw .badOptions(problem)
        }
        guard let kind = Kind(rawValue: name) else {
            throw .badOptions("unknown scorer \(ScoringText.quoted(name))")
        }
        let expected = try referenceFile(options: options, reference: reference)
        switch kind {
        case .exact:
            return try scoreExact(options: options, submission: submission, reference: expected)
        case .numericTolerance:
            return try scoreNumericTolerance(options: options, submission: submission, reference: expected)
        case .csvAccuracy:
            return try scoreCSV(.accuracy, options: options, submission: submission, reference: expected)
        case .csvRMSE:
            return try scoreCSV(.rmse, options: options, submission: submission, reference: expected)
        case .csvMAE:
            return try scoreCSV(.mae, options: options, submission: submission, reference: expected)
        }
    }

    /// What is wrong with one option's value, or nil if it is fine (the key is known to be accepted).
    private static func optionProblem(key: String, value: String) -> String? {
        switch key {
        case "case-sensitive":
            return value == "true" || value == "false" ? nil : "expected true or false"
        case "absolute", "relative":
            guard let number = ScoringText.decimal(value.trimmingCharacters(in: .whitespaces)) else {
                return "expected a decimal number"
            }
            return number >= 0 ? nil : "must not be negative"
        case "reference", "id", "target":
            return value.trimmingCharacters(in: .whitespaces).isEmpty ? "must not be empty" : nil
        default:
            return nil
        }
    }

    /// The reference file the options select: option `reference`, or the only file.
    private static func referenceFile(
        options: [String: String], reference: [String: Data]
    ) throws(ScoringFailure) -> Data {
        let available = reference.keys.sorted()
        guard !available.isEmpty else {
            throw .badReference("the challenge has no reference files")
        }
        if let name = options["reference"] {
            guard let data = reference[name] else {
                throw .badOptions(
                    "option reference=\(ScoringText.quoted(name)) names no reference file; "
                        + "the reference files are \(ScoringText.list(available, limit: 20))")
            }
            return data
        }
        guard available.count == 1, let only = reference.values.first else {
            throw .badOptions(
                "the challenge has \(available.count) reference files (\(ScoringText.list(available, limit: 20))); "
                    + "set option reference to choose one")
        }
        return only
    }
}
