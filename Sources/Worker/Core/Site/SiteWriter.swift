import Foundation
import PumasiShared

/// Writes the static site into a directory: `index.html` and one `<challenge id>.html` per challenge, as the
/// broker shows them to the client's credentials (so the site holds only what that viewer may see).
///
/// Every file is replaced atomically (written to a temporary file in the same directory, then renamed over the
/// old one), so a web server serving the directory never sends a half-written page. Files are world-readable
/// (0644) for the web server's user.
///
/// Thread rule: uses `client`, so it stays on the thread that owns the client.
struct SiteWriter {
    let directory: String
    let client: BrokerClient
    /// `final` or `provisional` for the leaderboards; nil for the broker's default.
    var view: String?

    /// Writes every challenge's page, then the index.
    /// - Returns: the paths written.
    func writeAll() throws -> [String] {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let challenges = try list()
        var written: [String] = []
        for info in challenges { written.append(try writePage(of: info)) }
        written.append(try writeIndex(challenges))
        return written
    }

    /// Writes the pages of `challenges` and the index (whose rows for them changed too). A challenge the viewer
    /// may no longer see keeps no page.
    /// - Returns: the paths written.
    func write(challenges ids: [String]) throws -> [String] {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let challenges = try list()
        var written: [String] = []
        for id in ids {
            if let info = challenges.first(where: { $0.id == id }) {
                written.append(try writePage(of: info))
            } else {
                try? FileManager.default.removeItem(
                    atPath: (directory as NSString).appendingPathComponent(ChallengePage.fileName(id)))
            }
        }
        written.append(try writeIndex(challenges))
        return written
    }

    private func list() throws -> [ChallengeInfo] {
        try client.challenges(state: nil)
    }

    private func writeIndex(_ challenges: [ChallengeInfo]) throws -> String {
        let path = (directory as NSString).appendingPathComponent("index.html")
        try Self.replace(path, with: SiteIndex(challenges: challenges, generatedAt: WallClock.now()).html)
        return path
    }

    private func writePage(of info: ChallengeInfo) throws -> String {
        let path = (directory as NSString).appendingPathComponent(ChallengePage.fileName(info.id))
        try Self.replace(path, with: try page(of: info).html)
        return path
    }

    /// The challenge's page, from its report (`pumasi.challenge.report`). For a viewer the broker gives no report
    /// to (an evaluator, a judge, another seeker), from the challenge and its leaderboard (`pumasi.leaderboard`);
    /// for one who may not see the leaderboard either (a confidential challenge's agreement not accepted), without.
    private func page(of info: ChallengeInfo) throws -> ChallengePage {
        do {
            let request = ReportRequest(challenge: info.id, view: view)
            return ChallengePage(report: try client.report(request))
        } catch {
            guard Self.isRefusal(error) else { throw error }
        }
        var report = ChallengeReport(
            challenge: info, metric: "", leaderboard: [], submissions: [], awards: info.awards ?? [],
            generatedAt: WallClock.now())
        do {
            let request = LeaderboardRequest(challenge: info.id, view: view)
            let board = try client.call(Service.leaderboard, request, as: Leaderboard.self).0
            report.metric = board.metric ?? ""
            report.precision = board.precision ?? ChallengeReport.defaultPrecision
            report.leaderboard = board.entries
            return ChallengePage(report: report)
        } catch {
            guard Self.isRefusal(error) else { throw error }
            return ChallengePage(report: report, withheld: true)
        }
    }

    private static func isRefusal(_ error: any Error) -> Bool {
        guard case ClientError.server(let refusal) = error else { return false }
        return refusal.code == .forbidden
    }

    /// Replaces the file at `path` with `text`: a temporary file beside it, written, flushed, made 0644, then
    /// renamed over `path`.
    static func replace(_ path: String, with text: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        let temporary = (directory as NSString).appendingPathComponent(
            ".\((path as NSString).lastPathComponent).\(UUID().uuidString.prefix(8)).tmp")
        let fm = FileManager.default
        guard fm.createFile(atPath: temporary, contents: Data(text.utf8), attributes: [.posixPermissions: 0o644])
        else { throw SiteError("cannot write \(temporary)") }
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            try? fm.removeItem(atPath: temporary)
            throw SiteError("cannot rename \(temporary) to \(path): \(reason)")
        }
    }
}

/// A site file that could not be written.
struct SiteError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
