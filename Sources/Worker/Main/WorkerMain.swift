import Foundation
import PumasiWorker

@main
struct WorkerMain {
    static func main() {
        exit(PumasiCLI.main(Array(CommandLine.arguments.dropFirst())))
    }
}
