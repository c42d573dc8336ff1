import Foundation

/// Every spike the asynchronous engine emitted: the raw material of a raster plot showing the wave
/// of activity cross the layers.
///
/// One event per emitted spike: sample (index in the batch plus the run's sample offset), frame
/// (from 0), global forward step of the sample (from 1, counting across frames), population (from
/// 0) and neuron index inside the population. Events are in emission order per sample.
///
/// File format (CSV, UTF-8): a header line `# snn-spike-trace v1 populations=N0,N1,...` (neurons per
/// population), the column line `sample,frame,step,population,neuron`, then one line per event.
public struct SpikeTrace: Sendable, Hashable {
    /// One emitted spike.
    public struct Event: Sendable, Hashable {
        public var sample: Int32
        public var frame: Int32
        public var step: Int32
        public var population: Int32
        public var neuron: Int32
        public init(sample: Int32, frame: Int32, step: Int32, population: Int32, neuron: Int32) {
            self.sample = sample; self.frame = frame; self.step = step; self.population = population; self.neuron = neuron
        }
    }

    /// Neurons per population.
    public var populationSizes: [Int]
    /// The events.
    public var events: [Event]

    public init(populationSizes: [Int], events: [Event] = []) {
        self.populationSizes = populationSizes
        self.events = events
    }

    static let magic = "# snn-spike-trace v1"

    /// The trace as CSV text.
    public func csv() -> String {
        var out = "\(SpikeTrace.magic) populations=\(populationSizes.map(String.init).joined(separator: ","))\n"
        out += "sample,frame,step,population,neuron\n"
        out.reserveCapacity(out.utf8.count + events.count * 16)
        for e in events { out += "\(e.sample),\(e.frame),\(e.step),\(e.population),\(e.neuron)\n" }
        return out
    }

    /// Writes the CSV file.
    public func write(to url: URL) throws {
        try csv().write(to: url, atomically: true, encoding: .utf8)
    }

    /// Reads a CSV trace.
    public static func read(from url: URL) throws -> SpikeTrace {
        try parse(String(contentsOf: url, encoding: .utf8))
    }

    /// Parses CSV text.
    public static func parse(_ text: String) throws -> SpikeTrace {
        var sizes: [Int]?
        var events: [Event] = []
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: true).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("#") {
                if let r = line.range(of: "populations=") {
                    sizes = line[r.upperBound...].split(separator: " ")[0].split(separator: ",").compactMap { Int($0) }
                }
                continue
            }
            if line.hasPrefix("sample") { continue }
            let f = line.split(separator: ",").map { Int32($0.trimmingCharacters(in: .whitespaces)) }
            guard f.count == 5, f.allSatisfy({ $0 != nil }) else {
                throw AsyncEngineError("spike trace line \(n + 1): expected sample,frame,step,population,neuron, got '\(line)'")
            }
            events.append(Event(sample: f[0]!, frame: f[1]!, step: f[2]!, population: f[3]!, neuron: f[4]!))
        }
        let pops = sizes ?? {
            var s: [Int] = []
            for e in events {
                while s.count <= Int(e.population) { s.append(0) }
                s[Int(e.population)] = max(s[Int(e.population)], Int(e.neuron) + 1)
            }
            return s
        }()
        return SpikeTrace(populationSizes: pops, events: events)
    }
}
