import Foundation
import PumasiShared

/// `<data-dir>/ledger.head`: the award ledger's head (`{"hash":"…","seq":N}`) as of the last commit that appended
/// to it, written after that commit as a new file renamed over the old one.
///
/// It anchors the ledger's tail: entries deleted from the end of the `awards` table leave the file naming an entry
/// the ledger no longer has. It may lag the ledger by the last commit (the broker stopped between the commit and the
/// write; the next start catches it up), and it never moves back: a file that names a later entry than the ledger
/// holds is evidence, and is left as it is.
struct LedgerHeadFile: LedgerHeadRecord {
    static let name = "ledger.head"
    var name: String { "the head file \(Self.name)" }
    var anchorName: String { Self.name }

    let path: String

    init(directory: String) {
        path = (directory as NSString).appendingPathComponent(Self.name)
    }

    struct Unreadable: Error, CustomStringConvertible {
        let path: String
        var description: String { "\(path) is not a ledger head ({\"hash\":…,\"seq\":…})" }
    }

    /// The recorded head; nil when there is no file.
    func read(_ db: any SQLDatabase) throws -> LedgerAnchor? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        guard let anchor = try? JSONDecoder().decode(LedgerAnchor.self, from: data) else {
            throw Unreadable(path: path)
        }
        return anchor
    }

    /// Records `head` unless the file already names that entry or a later one.
    /// - Throws: when the file cannot be written, or holds something else (left as it is, for `ledger verify`).
    func advance(to head: LedgerAnchor, _ db: any SQLDatabase) throws {
        if let recorded = try read(db), recorded.seq >= head.seq { return }
        try (Wire.encode(head) + Data("\n".utf8)).write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}
