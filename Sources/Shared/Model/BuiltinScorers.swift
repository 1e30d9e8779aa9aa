/// The scorers every evaluator has built in, with the direction each ranks by. Evaluators implement them;
/// the broker and the CLI check challenge specs against this list.
public enum BuiltinScorers {
    public static let catalog: [(name: String, direction: Direction)] = [
        ("exact", .maximize),
        ("numeric-tolerance", .maximize),
        ("csv-accuracy", .maximize),
        ("csv-rmse", .minimize),
        ("csv-mae", .minimize),
    ]

    public static var names: [String] { catalog.map(\.name) }

    public static func direction(of name: String) -> Direction? { catalog.first { $0.name == name }?.direction }
}
