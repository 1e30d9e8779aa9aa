import Foundation
import Glibc

/// Puts files where a Codabench program expects them: a `.zip` unpacked (under the archive limits), anything else
/// linked or copied under its name.
///
/// Thread rule: an immutable value; any thread may use it.
struct CodabenchPlacement: Sendable {
    let archiveLimits: ZipArchive.Limits

    /// Places every file of `source` in `directory`, unpacking those named `*.zip`.
    func placeFiles(of source: String, into directory: String, role: DataRole) throws(ScoringFailure) {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: source)
        } catch {
            throw ScoringFailure(code: "evaluator_error", message: "could not list \(source): \(error)")
        }
        for name in names.sorted() {
            try place(source + "/" + name, into: directory, role: role)
        }
    }

    /// Unpacks `file` into `directory` if it is named `*.zip`, or else links (or copies) it there under its name.
    /// - Parameter named: the name it goes by (its own file name when nil).
    func place(_ file: String, named: String? = nil, into directory: String, role: DataRole) throws(ScoringFailure) {
        let name = named ?? (file as NSString).lastPathComponent
        let destination = directory + "/" + name
        guard name.lowercased().hasSuffix(".zip") else {
            guard link(file, destination) != 0 else { return }
            do {
                try FileManager.default.copyItem(atPath: file, toPath: destination)
                return
            } catch {
                throw ScoringFailure(
                    code: "evaluator_error", message: "could not place \(name) in \(directory): \(error)")
            }
        }
        guard let data = FileManager.default.contents(atPath: file) else {
            throw ScoringFailure(code: "evaluator_error", message: "could not read \(file)")
        }
        do {
            try ZipArchive.unpack(data, into: directory, limits: archiveLimits)
        } catch  where error.isArchiveFault {
            throw role.failure("\(role.noun) \(name) cannot be unpacked: \(error.message)")
        } catch {
            throw ScoringFailure(code: "evaluator_error", message: "could not unpack \(name): \(error.message)")
        }
    }
}
