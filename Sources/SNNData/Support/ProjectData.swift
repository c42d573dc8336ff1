import Foundation

/// Finds the small real datasets that ship with SNNKit in its `Data/` folder.
///
/// Search order for `locate("digits/digits.csv.gz")`:
/// 1. `$SNNKIT_DATA/digits/digits.csv.gz` if the environment variable `SNNKIT_DATA` is set
///    (it names the `Data` folder itself);
/// 2. `Data/digits/digits.csv.gz` in the current directory or any folder above it;
/// 3. the same, walking up from the running executable's folder;
/// 4. the same, walking up from where this source file was compiled (a development checkout).
public enum ProjectData {
    /// The URL of `Data/<relative>` if it exists, or nil.
    public static func locate(_ relative: String) -> URL? {
        let fm = FileManager.default
        if let env = ProcessInfo.processInfo.environment["SNNKIT_DATA"], !env.isEmpty {
            let u = URL(fileURLWithPath: env).appendingPathComponent(relative)
            if fm.fileExists(atPath: u.path) { return u }
        }
        var starts = [URL(fileURLWithPath: fm.currentDirectoryPath)]
        if let exe = Bundle.main.executableURL { starts.append(exe.resolvingSymlinksInPath().deletingLastPathComponent()) }
        if let arg0 = CommandLine.arguments.first, arg0.contains("/") {
            starts.append(URL(fileURLWithPath: arg0).resolvingSymlinksInPath().deletingLastPathComponent())
        }
        starts.append(URL(fileURLWithPath: #filePath).deletingLastPathComponent())
        for start in starts {
            var dir = start.standardizedFileURL
            while true {
                let u = dir.appendingPathComponent("Data").appendingPathComponent(relative)
                if fm.fileExists(atPath: u.path) { return u }
                let parent = dir.deletingLastPathComponent()
                if parent.path == dir.path || dir.path == "/" { break }
                dir = parent
            }
        }
        return nil
    }
}
