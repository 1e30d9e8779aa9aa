import Foundation

/// A value bound to or read from a statement, on either backend.
public enum SQLValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob(Data)
}

/// One result row, read by column index.
public struct SQLRow: Sendable {
    public let values: [SQLValue]

    public init(values: [SQLValue]) { self.values = values }

    public func int(_ column: Int) -> Int64? {
        switch values[column] {
        case .integer(let v): v
        case .real(let v): Int64(exactly: v.rounded(.towardZero)) ?? nil
        default: nil
        }
    }

    public func double(_ column: Int) -> Double? {
        switch values[column] {
        case .integer(let v): Double(v)
        case .real(let v): v
        default: nil
        }
    }

    public func string(_ column: Int) -> String? {
        if case .text(let v) = values[column] { return v }
        return nil
    }

    public func data(_ column: Int) -> Data? {
        switch values[column] {
        case .blob(let v): v
        case .text(let v): Data(v.utf8)
        default: nil
        }
    }
}
