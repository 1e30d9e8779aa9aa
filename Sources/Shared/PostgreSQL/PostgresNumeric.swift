import Foundation

/// PostgreSQL's binary `numeric`: a digit count, a weight, a sign and a display scale, then base-10000 digits, the
/// first of which is worth 10000^weight. What the store reads as numeric (a `SUM` of integers) is whole and comes
/// back as an integer; anything with a fraction, or too large for 64 bits, as a double.
enum PostgresNumeric {
    static func decode(_ bytes: UnsafeRawBufferPointer) -> SQLValue {
        func int16(_ offset: Int) -> Int {
            Int(Int16(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: Int16.self)))
        }
        guard bytes.count >= 8 else { return .null }
        let count = int16(0)
        let weight = int16(2)
        let sign = UInt16(truncatingIfNeeded: int16(4))
        let scale = int16(6)
        switch sign {
        case 0xC000: return .real(.nan)
        case 0xD000: return .real(.infinity)
        case 0xF000: return .real(-.infinity)
        default: break
        }
        guard count >= 0, bytes.count >= 8 + 2 * count else { return .null }
        let digits = (0..<count).map { int16(8 + 2 * $0) }
        let negative = sign == 0x4000
        var value = 0.0
        for (index, digit) in digits.enumerated() { value += Double(digit) * pow(10_000, Double(weight - index)) }
        // Whole when no digit stands after the point: each digit, then zeros up to the weight, in base 10000.
        if scale == 0, count == 0 || weight >= count - 1 {
            var whole: Int64 = 0
            var exact = true
            for digit in digits + Array(repeating: 0, count: max(0, weight - count + 1)) {
                let (shifted, o1) = whole.multipliedReportingOverflow(by: 10_000)
                let (sum, o2) = shifted.addingReportingOverflow(Int64(digit))
                if o1 || o2 { exact = false }
                whole = sum
            }
            if exact { return .integer(negative ? -whole : whole) }
        }
        return .real(negative ? -value : value)
    }
}
