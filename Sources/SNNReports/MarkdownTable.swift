/// A Markdown table: a header row and string cells, columns padded for reading as plain text too.
public struct MarkdownTable: Sendable, Equatable, Codable {
    public var header: [String]
    public var rows: [[String]] = []

    public init(header: [String]) { self.header = header }

    public mutating func append(_ row: [String]) {
        precondition(row.count == header.count, "MarkdownTable: row of \(row.count) cells for \(header.count) columns")
        rows.append(row)
    }

    /// The table as Markdown text.
    public var text: String {
        let widths = header.indices.map { c in max(3, ([header[c]] + rows.map { $0[c] }).map(\.count).max()!) }
        func line(_ cells: [String]) -> String {
            "| " + cells.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: " | ") + " |"
        }
        return ([line(header), "|" + widths.map { String(repeating: "-", count: $0 + 2) }.joined(separator: "|") + "|"]
                + rows.map(line)).joined(separator: "\n") + "\n"
    }
}
import Foundation
