import Foundation
import PumasiShared

/// `pumasi post --bundle`: a Codabench bundle read into a challenge spec and its files.
enum BundlePosting {
    /// Files over this size are written to the scratch directory and uploaded in chunks before the post.
    static let inlineLimit = 1 << 20

    /// The spec and files to post, or nil after a dry run printed them.
    /// - Parameter scratch: a directory to unpack the bundle in and keep its large files in, which the caller removes
    ///   after posting.
    static func load(_ path: String, context: CommandContext, scratch: String) throws -> SpecFile? {
        let a = context.arguments
        let usage = PostCommand.spec.usage
        guard let award = a.value("award") else {
            throw UsageError("--bundle needs --award, such as \"1000 USD\"", usage: usage)
        }
        let parts = award.split(separator: " ").map(String.init)
        guard parts.count == 2, let amount = Decimal(string: parts[0]) else {
            throw UsageError("--award takes an amount and a currency, such as \"1000 USD\"", usage: usage)
        }
        let now = WallClock.now()
        func time(_ text: String, _ what: String) throws -> Millis {
            guard let value = WallClock.parse(text, now: now) else {
                throw UsageError(
                    "\(what) must be a time such as 2026-12-31T23:59:00Z or +7d, not \(text)", usage: usage)
            }
            return value
        }
        var options = CodabenchBundle.PostOptions(award: AwardSpec(amount: amount, currency: parts[1]), now: now)
        if let deadline = a.value("deadline") { options.deadline = try time(deadline, "--deadline") }
        if let ends = a.value("phase-ends") {
            options.phaseEnds = try ends.split(separator: ",").map { try time(String($0), "--phase-ends") }
        }
        if let environment = a.value("environment") {
            if environment == "host" { options.onHost = true } else { options.environment = environment }
        }
        if let lines = a.value("ingestion-log") {
            guard let n = Int(lines), (0...IngestionSpec.maxShownLines).contains(n) else {
                throw UsageError("--ingestion-log must be 0-\(IngestionSpec.maxShownLines) lines", usage: usage)
            }
            options.ingestionLog = n
        }
        if let kind = a.value("terms-kind") {
            guard let value = AgreementKind(rawValue: kind) else {
                throw UsageError("--terms-kind must be licence, confidentiality or ip-transfer", usage: usage)
            }
            options.agreementKind = value
        }
        for entry in a.all("canary") {
            options.canaries.append(try canary(entry, usage: usage))
        }
        guard let archive = FileManager.default.contents(atPath: path) else {
            throw CommandFailure("could not read the bundle \(path)")
        }
        let unpacked = scratch + "/bundle"
        try FileManager.default.createDirectory(atPath: unpacked, withIntermediateDirectories: true)
        var posting: CodabenchBundle.Posting
        do {
            posting = try CodabenchBundle(archive: archive, unpackingInto: unpacked).posting(options)
        } catch {
            throw CommandFailure("bundle \(path): \(error.message)")
        }
        for note in posting.notes { context.console.err("note: \(note)") }
        if a.flag("dry-run") {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            context.console.out(String(decoding: try encoder.encode(posting.spec), as: UTF8.self))
            return nil
        }
        // Large files go by upload, as `pumasi post` sends a spec's: from a file, in chunks.
        var large: [String?] = []
        for (index, data) in posting.files.enumerated() {
            posting.spec.files?[index].sha256 = SHA256.hex(data)
            posting.spec.files?[index].size = data.count
            guard data.count > inlineLimit else {
                large.append(nil)
                continue
            }
            let file = scratch + "/upload-\(index)"
            try data.write(to: URL(fileURLWithPath: file))
            large.append(file)
            posting.files[index] = Data()
        }
        return SpecFile(spec: posting.spec, fileBytes: posting.files, largeFiles: large)
    }

    /// `file=score[@phase]` or `file=fail[@phase]`.
    private static func canary(_ text: String, usage: String) throws -> (String, CanarySpec, Int) {
        let problem = UsageError("--canary takes file=score or file=fail, with @phase after either", usage: usage)
        guard let equals = text.lastIndex(of: "=") else { throw problem }
        let path = String(text[..<equals])
        var expectation = String(text[text.index(after: equals)...])
        var phase = 1
        if let at = expectation.lastIndex(of: "@") {
            guard let number = Int(expectation[expectation.index(after: at)...]) else { throw problem }
            phase = number
            expectation = String(expectation[..<at])
        }
        if expectation == "fail" { return (path, CanarySpec(file: path, fails: true), phase) }
        guard let score = Double(expectation), score.isFinite, !path.isEmpty else { throw problem }
        return (path, CanarySpec(file: path, score: score), phase)
    }
}
