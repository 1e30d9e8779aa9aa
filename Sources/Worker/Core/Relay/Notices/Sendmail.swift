import Foundation
import PumasiShared

/// The host's sendmail interface: `<path> -t -i`, the message (headers, a blank line, the body) on stdin; the
/// program reads the recipients from the To header. Debian's MTAs (exim4, postfix, msmtp-mta, nullmailer) all
/// install one at /usr/sbin/sendmail.
///
/// Each `send` runs the program once, with a time limit: one that has not exited by then is killed. Its stdin is
/// a file, not a pipe, so a program that exits without reading cannot stop the relay with SIGPIPE.
struct Sendmail {
    var path: String
    var timeoutSeconds: Double

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    func send(_ message: String) throws {
        let base = NSTemporaryDirectory() + "pumasi-notice-\(UUID().uuidString)"
        let input = base + ".eml"
        let errors = base + ".err"
        defer {
            try? FileManager.default.removeItem(atPath: input)
            try? FileManager.default.removeItem(atPath: errors)
        }
        try Data(message.utf8).write(to: URL(fileURLWithPath: input))
        guard FileManager.default.createFile(atPath: errors, contents: nil),
            let stdin = FileHandle(forReadingAtPath: input), let stderr = FileHandle(forWritingAtPath: errors)
        else { throw Failure(description: "could not stage the message in \(NSTemporaryDirectory())") }
        defer {
            try? stdin.close()
            try? stderr.close()
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = ["-t", "-i"]
        process.standardInput = stdin
        process.standardOutput = FileHandle.nullDevice
        process.standardError = stderr
        let exited = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in exited.signal() }
        do {
            try process.run()
        } catch {
            throw Failure(description: "could not run \(path): \(error.localizedDescription)")
        }
        if exited.wait(timeout: .now() + timeoutSeconds) == .timedOut {
            kill(process.processIdentifier, SIGKILL)
            _ = exited.wait(timeout: .now() + 2)
            throw Failure(description: "\(path) did not finish within \(timeoutSeconds) s and was killed")
        }
        guard process.terminationReason == .exit, process.terminationStatus == 0 else {
            let said = String(
                decoding: (FileManager.default.contents(atPath: errors) ?? Data()).prefix(500), as: UTF8.self
            )
            .trimmingCharacters(in: .whitespacesAndNewlines)
            let how =
                process.terminationReason == .exit
                ? "exited with status \(process.terminationStatus)"
                : "was killed by signal \(process.terminationStatus)"
            throw Failure(description: "\(path) \(how)" + (said.isEmpty ? "" : ": \(said)"))
        }
    }
}

/// A notice as an email: To, From, Subject (the challenge and the event), Date, and a plain-text body.
/// Header values are kept to one line (a challenge title cannot add headers) and encoded (RFC 2047) when not ASCII.
struct NoticeEmail {
    var message: String

    init(_ notice: Notice, to: String, from: String, now: Date = Date()) {
        let a = notice.announcement
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss '+0000'"
        var body = [notice.text, ""]
        body.append("challenge   \(a.challenge) \"\(Self.oneLine(a.title))\"")
        body.append("event       \(a.topic.rawValue) (#\(a.seq) at \(WallClock.iso(a.at)))")
        if let submission = a.submission { body.append("submission  \(submission)") }
        if let solver = a.solver { body.append("solver      \(solver)") }
        if let score = a.score { body.append("score       \(Format.score(score))") }
        if let deadline = a.deadline { body.append("deadline    \(WallClock.iso(deadline))") }
        if let message = a.message { body.append("message     \(message)") }
        body.append("")
        body.append("Sent by a pumasi relay (pumasi relay --notify email:\(to)).")
        let headers = [
            "To: \(to)",
            "From: \(Self.oneLine(from))",
            "Subject: \(Self.header(notice.subject))",
            "Date: \(formatter.string(from: now))",
            "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: 8bit",
            "Auto-Submitted: auto-generated",
        ]
        // sendmail -t -i takes lines ending in LF; a body line of a single dot is safe with -i.
        message = headers.joined(separator: "\n") + "\n\n" + body.map(Self.stripCR).joined(separator: "\n") + "\n"
    }

    static func oneLine(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.map { $0.value < 32 || $0.value == 127 ? " " : $0 }))
    }

    private static func stripCR(_ text: String) -> String { text.replacingOccurrences(of: "\r", with: "") }

    /// A header value on one line; base64-encoded words when it is not plain ASCII.
    static func header(_ text: String) -> String {
        let line = oneLine(text)
        if line.unicodeScalars.allSatisfy({ $0.isASCII }) { return line }
        // Encoded words of at most 75 characters: 45 bytes of UTF-8 each, split between characters.
        var words: [String] = []
        var chunk = ""
        for character in line {
            if chunk.utf8.count + String(character).utf8.count > 45 {
                words.append(chunk)
                chunk = ""
            }
            chunk.append(character)
        }
        if !chunk.isEmpty { words.append(chunk) }
        return words.map { "=?UTF-8?B?\(Data($0.utf8).base64EncodedString())?=" }.joined(separator: "\n ")
    }
}
