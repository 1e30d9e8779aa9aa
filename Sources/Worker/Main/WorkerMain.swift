@main struct WorkerMain { static func main() {} }
