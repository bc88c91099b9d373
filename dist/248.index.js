export const id = 248;
export const ids = [248];
export const modules = {

/***/ 3248:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {


// EXPORTS
__webpack_require__.d(__webpack_exports__, {
  run: () => (/* binding */ run)
});

// UNUSED EXPORTS: runPost

// EXTERNAL MODULE: ./node_modules/@actions/core/lib/core.js + 14 modules
var lib_core = __webpack_require__(6421);
// EXTERNAL MODULE: external "node:fs/promises"
var promises_ = __webpack_require__(1455);
// EXTERNAL MODULE: external "node:os"
var external_node_os_ = __webpack_require__(8161);
// EXTERNAL MODULE: external "node:path"
var external_node_path_ = __webpack_require__(6760);
;// CONCATENATED MODULE: ./src/errors.ts
class ActionError extends Error {
    transient;
    retryAfterMs;
    constructor(message, options = {}) {
        super(message, { cause: options.cause });
        this.name = new.target.name;
        this.transient = options.transient ?? false;
        this.retryAfterMs = options.retryAfterMs;
    }
}
/** A non-2xx answer from the Downloads API. */
class ApiError extends ActionError {
    status;
    /** GitHub's validation error codes (`already_exists`, `missing_field`, …), if any. */
    codes;
    constructor(message, status, options = {}) {
        super(message, options);
        this.status = status;
        this.codes = options.codes ?? [];
    }
}
/** An XML `<Error>` (or an unexpected answer) from the S3 POST endpoint. */
class S3Error extends ActionError {
    status;
    code;
    constructor(message, status, code, options = {}) {
        super(message, options);
        this.status = status;
        this.code = code;
    }
}
/** A request that never got an answer: refused, reset, timed out. Always worth retrying. */
class NetworkError extends ActionError {
    constructor(message, cause) {
        super(message, { transient: true, cause });
    }
}
/**
 * The run was cancelled (the runner's SIGINT or SIGTERM): the work in hand stops, and what it
 * left half-done is undone. Never retried.
 */
class CancelledError extends ActionError {
    constructor(message = 'cancelled') {
        super(message);
    }
}
/**
 * A file on the runner could not be opened or read: missing, unreadable, changed. No retry
 * helps, and no request should be sent for it.
 */
class LocalFileError extends ActionError {
}
/**
 * Another writer changed the same downloads while this run worked on them (a second run of
 * the workflow, a person): this run stepped back instead of overwriting what it did not make.
 */
class ConflictError extends ActionError {
}
/** The text of any thrown value, for messages. */
function errors_describe(error) {
    return error instanceof Error ? error.message : String(error);
}

;// CONCATENATED MODULE: ./src/cancellation.ts

/**
 * The runner cancels a step with SIGINT, sends SIGTERM 7.5 s later, and kills the process
 * tree 2.5 s after that. The first signal asks the run to stop: nothing new starts, uploads
 * in flight are aborted, and their clean-up (deleting a record without bytes, putting back a
 * replaced download) runs to the end. Later signals only say that the undo goes on; they
 * never cut it short, since that is when the user's files are at stake. Whatever a kill
 * interrupts, the post step finishes from the journal.
 */
class cancellation_Cancellation {
    say;
    controller = new AbortController();
    signalName;
    handlers = new Map();
    constructor(say = () => undefined) {
        this.say = say;
    }
    /** Listens for SIGINT and SIGTERM until {@link dispose}. */
    listen() {
        for (const name of ['SIGINT', 'SIGTERM']) {
            const handler = () => this.cancel(name);
            this.handlers.set(name, handler);
            process.on(name, handler);
        }
        return this;
    }
    /** Stops listening: the default handling (exit) applies again. */
    dispose() {
        for (const [name, handler] of this.handlers)
            process.off(name, handler);
        this.handlers.clear();
    }
    /** Aborted on the first signal; HTTP requests and waits that may be cut short take it. */
    get signal() {
        return this.controller.signal;
    }
    get cancelled() {
        return this.controller.signal.aborted;
    }
    /** Which signal cancelled the run, for the log and the summary. */
    get reason() {
        return this.signalName ?? 'cancelled';
    }
    cancel(name) {
        if (this.signalName !== undefined) {
            this.say(`${name} received: still undoing what this run left half-done. If the runner kills this step first, its post step finishes the undo.`);
            return;
        }
        this.signalName = name;
        this.say(`${name} received: the run was cancelled. No new file starts, uploads in flight stop, and what they left half-done is undone.`);
        this.controller.abort(new CancelledError(`cancelled (${name})`));
    }
    /** Throws once cancelled: called before each step that would change something. */
    check() {
        if (this.cancelled)
            throw new CancelledError(`cancelled (${this.reason}) before it started`);
    }
}

// EXTERNAL MODULE: ./node_modules/@actions/glob/lib/glob.js + 9 modules
var glob = __webpack_require__(3860);
// EXTERNAL MODULE: external "node:buffer"
var external_node_buffer_ = __webpack_require__(4573);
// EXTERNAL MODULE: external "node:crypto"
var external_node_crypto_ = __webpack_require__(7598);
// EXTERNAL MODULE: external "node:fs"
var external_node_fs_ = __webpack_require__(3024);
// EXTERNAL MODULE: ./node_modules/mime-types/index.js
var mime_types = __webpack_require__(4096);
// EXTERNAL MODULE: ./node_modules/minimatch/dist/esm/index.js + 7 modules
var esm = __webpack_require__(3581);
;// CONCATENATED MODULE: ./src/names.ts
/**
 * The rules a download's name must meet, checked before any request so that a bad name fails
 * the run with every offender listed instead of a 422 after other files were published.
 */
/** The server keeps a name as one path segment: at most 255 bytes of UTF-8. */
const MAX_NAME_BYTES = 255;
/** C0 controls, DEL and C1 controls: the characters a log or a terminal would act upon. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;
/**
 * Why no download can be called `name`, or undefined when it can. A name is one path segment
 * of the download's URL and of the S3 key: the server refuses C0 controls and DEL, `.`, `..`,
 * `/` and names over 255 bytes (the emulator's `validName` enforces the same). Refused here as
 * well: C1 controls, which nobody can see or type and which terminals act upon (U+009B starts
 * an escape sequence), and a backslash, which Windows cannot have in a file name, so browsers
 * there save the download under another name than the one published.
 */
function nameProblem(name) {
    if (name === '' || name === '.' || name === '..')
        return 'not a file name';
    const controls = [...new Set(name.match(CONTROL) ?? [])];
    if (controls.length > 0) {
        const which = controls.map(codePoint).join(', ');
        return `control character${controls.length === 1 ? '' : 's'} ${which} in the name`;
    }
    if (name.includes('/') || name.includes('\\'))
        return 'a slash or backslash in the name';
    const bytes = Buffer.byteLength(name);
    if (bytes > MAX_NAME_BYTES) {
        return `a name of ${bytes} bytes in UTF-8, over the limit of ${MAX_NAME_BYTES}`;
    }
    return undefined;
}
/** One error naming every file whose name cannot be a download's, so that one fix suffices. */
function badNamesError(bad) {
    const listing = bad
        .map((b) => `${showName(b.path)} (${b.problem})`)
        .sort()
        .join('; ');
    const files = bad.length === 1 ? '1 file has a name' : `${bad.length} files have names`;
    return new Error(`${files} that no download can take: ${listing}. Nothing was changed. Rename ${bad.length === 1 ? 'it' : 'them'}, or leave ${bad.length === 1 ? 'it' : 'them'} out with a '!' pattern in 'glob'.`);
}
/**
 * A name or path quoted as JSON quotes it, so that quotes, backslashes and control characters
 * are visible, and, beyond JSON, DEL and C1 controls as `\u007f`…`\u009f` (JSON leaves them
 * raw, and a terminal acts on C1 controls) and bytes that are not UTF-8 as `\xff`.
 */
function showName(name) {
    const parts = typeof name === 'string' ? [name] : decodeKeepingBadBytes(name);
    const shown = parts.map((part) => typeof part === 'number'
        ? `\\x${part.toString(16).padStart(2, '0')}`
        : JSON.stringify(part)
            .slice(1, -1)
            .replace(/[\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
    return `"${shown.join('')}"`;
}
/**
 * Splits bytes into the runs that are valid UTF-8 (decoded) and the bytes that belong to no
 * valid sequence (as numbers), so that each bad byte can be shown on its own.
 */
function decodeKeepingBadBytes(bytes) {
    const strict = new TextDecoder('utf-8', { fatal: true });
    const parts = [];
    let run = '';
    for (let i = 0; i < bytes.length;) {
        const length = sequenceLength(bytes[i]);
        let char;
        if (length > 0 && i + length <= bytes.length) {
            try {
                char = strict.decode(bytes.subarray(i, i + length));
            }
            catch {
                // An overlong form, a surrogate or a missing continuation byte: the lead byte is bad.
            }
        }
        if (char === undefined) {
            if (run !== '')
                parts.push(run);
            run = '';
            parts.push(bytes[i]);
            i += 1;
        }
        else {
            run += char;
            i += length;
        }
    }
    if (run !== '')
        parts.push(run);
    return parts;
}
/** How long a UTF-8 sequence its lead byte announces; 0 for a byte that cannot lead one. */
function sequenceLength(lead) {
    if (lead < 0x80)
        return 1;
    if (lead >= 0xc2 && lead <= 0xdf)
        return 2;
    if (lead >= 0xe0 && lead <= 0xef)
        return 3;
    if (lead >= 0xf0 && lead <= 0xf4)
        return 4;
    return 0;
}
function codePoint(c) {
    return `U+${c.codePointAt(0)?.toString(16).toUpperCase().padStart(4, '0')}`;
}
/**
 * Pairs of names that differ only by Unicode normalization (é as one code point or as e and
 * a combining accent) or only by letter case. The server keys downloads by exact name and
 * takes both, but macOS normalizes names and macOS and Windows ignore case, so whoever
 * downloads both into one folder keeps one of them.
 */
function lookalikes(names) {
    // Grouped by what the two tests agree on, so that a thousand files cost a thousand keys,
    // not half a million comparisons.
    const groups = new Map();
    for (const name of new Set(names)) {
        const key = name.normalize('NFC').toLowerCase();
        groups.set(key, [...(groups.get(key) ?? []), name]);
    }
    const pairs = [];
    for (const group of groups.values()) {
        group.forEach((a, i) => {
            for (const b of group.slice(i + 1)) {
                const differ = a.normalize('NFC') === b.normalize('NFC') ? 'normalization' : 'case';
                pairs.push({ names: [a, b], differ });
            }
        });
    }
    return pairs;
}
/** The warning for {@link lookalikes}, naming each pair so that the difference shows. */
function lookalikesWarning(pairs) {
    const listing = pairs
        .map(({ names: [a, b], differ }) => differ === 'normalization'
        ? `${showName(a)} (${names_form(a)}) and ${showName(b)} (${names_form(b)})`
        : `${showName(a)} and ${showName(b)}`)
        .join('; ');
    return `Some download names differ only by Unicode normalization or letter case: ${listing}. They are published as distinct downloads, but macOS and Windows may save them as one file; rename one of each pair if both matter.`;
}
/** Which Unicode normalization form a name is in, as a user would be told. */
function names_form(name) {
    if (name === name.normalize('NFC'))
        return 'NFC';
    if (name === name.normalize('NFD'))
        return 'NFD';
    return 'neither NFC nor NFD';
}

;// CONCATENATED MODULE: ./src/files.ts











/** S3 takes at most 5 GiB in one POST (AWS: "One POST carries at most 5 GiB"). */
const MAX_FILE_SIZE = 5 * 1024 ** 3;
/**
 * Expands the patterns (rooted at the workspace), keeps regular files only, leaves out hidden
 * ones unless asked, and checks that every one can be published: a name a download can take
 * (all refused names in one error), readable, within S3's size limit, and no two with the same
 * name. Warns about names that differ only by normalization or case, and about files that lie
 * outside the workspace once symlinks are resolved. Sorted by name, the order of the outputs.
 */
async function findArtifacts(patterns, workspace, options = {}) {
    const rooted = patterns.map((p) => rootPattern(p, workspace));
    const globber = await glob/* create */.v(rooted.join('\n'), {
        matchDirectories: false,
        implicitDescendants: false
    });
    const searchPaths = globber.getSearchPaths();
    const excluded = (file) => !options.includeHiddenFiles && isHidden(file, workspace, searchPaths);
    const matched = await globber.glob();
    const hidden = matched.filter(excluded);
    if (hidden.length > 0) {
        lib_core/* info */.pq(`Excluded ${hidden.length} hidden file${hidden.length === 1 ? '' : 's'} (a name or folder starting with '.'); set 'include-hidden-files: true' to publish hidden files.`);
        for (const file of hidden)
            lib_core/* debug */.Yz(`Hidden, excluded: ${showName(file)}`);
    }
    const bad = await findUndecodable(searchPaths, new GlobMatcher(rooted), excluded);
    const found = [];
    for (const file of matched.filter((f) => !excluded(f))) {
        const info = await (0,promises_.stat)(file);
        // With matchDirectories off only files come back, but a symlink to a socket or a FIFO
        // is no artifact either.
        if (!info.isFile())
            continue;
        const name = options.nameOf ? options.nameOf(file) : external_node_path_.basename(file);
        const problem = nameProblem(name);
        if (problem !== undefined) {
            bad.push({
                path: file,
                problem: options.nameOf ? `'name-template' makes it ${showName(name)}: ${problem}` : problem
            });
        }
        found.push({ path: file, name, size: info.size });
    }
    if (bad.length > 0)
        throw badNamesError(bad);
    const artifacts = [];
    for (const { path: file, name, size } of found) {
        await (0,promises_.access)(file, external_node_fs_.constants.R_OK).catch(() => {
            throw new Error(`Cannot read ${file}: check the file's permissions.`);
        });
        if (size > MAX_FILE_SIZE) {
            throw new Error(`${file} is ${size} bytes; one upload to S3 carries at most 5 GiB (${MAX_FILE_SIZE} bytes). Split or compress it.`);
        }
        artifacts.push({ path: file, name, size, contentType: contentTypeOf(name) });
    }
    artifacts.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const clashes = artifacts.filter((a, i) => i > 0 && artifacts[i - 1].name === a.name);
    if (clashes.length > 0) {
        const names = [...new Set(clashes.map((a) => a.name))];
        const listing = names
            .map((n) => `${n}: ${artifacts
            .filter((a) => a.name === n)
            .map((a) => a.path)
            .join(', ')}`)
            .join('; ');
        throw new Error(`Several files have the same download name (${listing}). A repository's downloads are keyed by name: narrow the glob, rename the files${options.nameOf ? ", or change 'name-template'" : ', or name them with a name-template'}.`);
    }
    const pairs = lookalikes(artifacts.map((a) => a.name));
    if (pairs.length > 0)
        lib_core/* warning */.$e(lookalikesWarning(pairs));
    await warnOutsideWorkspace(artifacts, workspace);
    return artifacts;
}
/**
 * Whether a path has a segment starting with `.` below where the user's patterns start: the
 * workspace for a file in it, else the search path it was found under (`~/*` finds
 * `~/.bashrc` hidden; folders above the workspace never count). As actions/upload-artifact
 * since v4.4 (actions/upload-artifact#598: "This reduces the risk that credentials are
 * accidentally uploaded"), hidden files are left out unless `include-hidden-files` says
 * otherwise: a `dist/*` would otherwise publish `dist/.npmrc` with its registry token.
 * Counted here rather than with @actions/glob's `excludeHiddenFiles`, so that the log can say
 * how many were left out.
 */
function isHidden(file, workspace, searchPaths) {
    const root = [workspace, ...searchPaths].find((dir) => isBelow(file, dir));
    const below = root === undefined ? external_node_path_.basename(file) : external_node_path_.relative(root, file);
    return below.split(external_node_path_.sep).some((segment) => segment.startsWith('.'));
}
/** Whether `file` lies strictly below `dir` (by path: symlinks are not resolved). */
function isBelow(file, dir) {
    const relative = external_node_path_.relative(dir, file);
    return (relative !== '' &&
        relative !== '..' &&
        !relative.startsWith(`..${external_node_path_.sep}`) &&
        !external_node_path_.isAbsolute(relative));
}
/**
 * Warns, naming each, about files that lie outside the workspace once symlinks are resolved:
 * a `**` that follows a folder symlink out of the checkout, or `../`, `/…` and `~/` patterns.
 * They are published all the same, as actions/upload-artifact does, but whoever reads the log
 * should see that the glob reached beyond the checkout.
 */
async function warnOutsideWorkspace(artifacts, workspace) {
    const realWorkspace = await (0,promises_.realpath)(workspace).catch(() => external_node_path_.resolve(workspace));
    const outside = [];
    for (const artifact of artifacts) {
        const real = await (0,promises_.realpath)(artifact.path);
        if (!isBelow(real, realWorkspace))
            outside.push(real);
    }
    if (outside.length === 0)
        return;
    const one = outside.length === 1;
    lib_core/* warning */.$e(`${one ? '1 file lies' : `${outside.length} files lie`} outside the workspace (${showName(realWorkspace)}) once symlinks are resolved: ${outside.map((f) => showName(f)).join(', ')}. ${one ? 'It is' : 'They are'} published all the same; narrow the glob if ${one ? 'it was' : 'they were'} not meant to be.`);
}
/**
 * The files the patterns select whose path is not valid UTF-8, with the reason. On Linux a
 * name is bytes; Node reads one that is not UTF-8 with U+FFFD in place of the bad bytes, a
 * path that names no file, so @actions/glob fails to stat it and drops it as a "broken
 * symlink" with only a debug line: the run succeeded without the file and said nothing. So
 * the folders the glob searched are read again with byte names to find such files. Windows
 * and macOS keep names as Unicode, so there is never one to find there; Windows is skipped,
 * as its byte names are Node's own rendering of UTF-16.
 */
async function findUndecodable(searchPaths, matcher, excluded) {
    if (process.platform === 'win32')
        return [];
    const found = [];
    // Folders already read, by device and inode: a symlink cycle is read once.
    const seen = new Set();
    const visit = async (dir, shown, badFolder) => {
        const info = await (0,promises_.stat)(dir).catch(() => undefined);
        if (!info?.isDirectory() || seen.has(`${info.dev}:${info.ino}`))
            return;
        seen.add(`${info.dev}:${info.ino}`);
        const entries = await (0,promises_.readdir)(dir, { encoding: 'buffer', withFileTypes: true }).catch(() => []);
        for (const entry of entries) {
            const bytes = Buffer.concat([dir, Buffer.from(external_node_path_.sep), entry.name]);
            // How the glob saw it: the bytes decoded with U+FFFD for each bad one.
            const child = external_node_path_.join(shown, entry.name.toString('utf8'));
            const badName = !(0,external_node_buffer_.isUtf8)(entry.name);
            if (excluded(child))
                continue;
            if (entry.isDirectory() || entry.isSymbolicLink()) {
                if (matcher.mayContain(child))
                    await visit(bytes, child, badFolder || badName);
                if (entry.isDirectory())
                    continue;
            }
            if (!(badFolder || badName) || !matcher.selects(child))
                continue;
            // The glob follows symlinks; only regular files are published.
            if (!(await (0,promises_.stat)(bytes).catch(() => undefined))?.isFile())
                continue;
            const problem = badName ? 'name not valid UTF-8' : 'a folder name in its path not valid UTF-8';
            found.push({ path: bytes, problem });
        }
    };
    for (const searchPath of searchPaths)
        await visit(Buffer.from(searchPath), searchPath, false);
    return found;
}
/**
 * @actions/glob's test of a path against the patterns (its `Pattern` class, which the package
 * does not export), for the paths it cannot test itself because it cannot stat them: the same
 * minimatch, options and reading of `!`, `~`, a trailing `/` and a final `**`.
 */
class GlobMatcher {
    patterns;
    constructor(rootedPatterns) {
        this.patterns = rootedPatterns.map((line) => {
            let pattern = line.trim();
            let negate = false;
            while (pattern.startsWith('!')) {
                negate = !negate;
                pattern = pattern.slice(1).trim();
            }
            if (pattern === '~' || pattern.startsWith('~/')) {
                pattern = globEscape((0,external_node_os_.homedir)()) + pattern.slice(1);
            }
            pattern = pattern.replace(/\/+/g, '/');
            const foldersOnly = pattern.length > 1 && pattern.endsWith('/');
            if (foldersOnly)
                pattern = pattern.slice(0, -1);
            return {
                negate,
                foldersOnly,
                globstar: pattern.endsWith('/**'),
                minimatch: new esm/* Minimatch */.VR(pattern, {
                    dot: true,
                    nobrace: true,
                    nocomment: true,
                    noext: true,
                    nonegate: true
                })
            };
        });
    }
    /** Whether the patterns select the file: the last pattern that matches it decides. */
    selects(file) {
        let selected = false;
        for (const p of this.patterns) {
            if (!p.foldersOnly && p.minimatch.match(p.globstar ? `${file}/` : file)) {
                selected = !p.negate;
            }
        }
        return selected;
    }
    /** Whether the glob would look inside the folder: some pattern may match below it. */
    mayContain(folder) {
        return this.patterns.some((p) => !p.negate && p.minimatch.match(folder, true));
    }
}
/** @actions/glob's escaping of a literal path (its `Pattern.globEscape`, on POSIX). */
function globEscape(literal) {
    return literal
        .replace(/\\/g, '\\\\')
        .replace(/(\[)(?=[^/]+\])/g, '[[]')
        .replace(/\?/g, '[?]')
        .replace(/\*/g, '[*]');
}
/** The content type to declare for a file name; octet-stream when nothing is known. */
function contentTypeOf(name) {
    return (0,mime_types.lookup)(name) || 'application/octet-stream';
}
/**
 * Roots a relative pattern at the workspace. @actions/glob roots relative patterns at the
 * process's working directory, which need not be the workspace. Glob characters in the
 * workspace path itself are escaped so that they match only themselves.
 */
function rootPattern(pattern, workspace) {
    const negated = pattern.startsWith('!');
    const body = negated ? pattern.slice(1).trimStart() : pattern;
    if (external_node_path_.isAbsolute(body) || body.startsWith('~'))
        return pattern;
    // As @actions/glob's own escaping: a bracketed `[`, `*` or `?`, and a doubled backslash
    // (its escape character on POSIX); a lone `]` is literal already.
    const base = process.platform === 'win32'
        ? workspace.replace(/[[*?]/g, (c) => `[${c}]`)
        : workspace.replace(/[[*?\\]/g, (c) => (c === '\\' ? '\\\\' : `[${c}]`));
    return `${negated ? '!' : ''}${external_node_path_.join(base, body)}`;
}
/** The SHA-256 of a file's bytes (a dry run reports it; an upload hashes as it sends). */
async function sha256Of(file) {
    const hash = createHash('sha256');
    for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 })) {
        hash.update(chunk);
    }
    return hash.digest('hex');
}

;// CONCATENATED MODULE: ./src/name-template.ts

/**
 * Download names from a template (input `name-template`), e.g. `{stem}-v1.2.3{ext}`. The
 * runner expands `${{ … }}` before the action sees the input, so only these placeholders are
 * the action's own.
 */
const PLACEHOLDERS = ['name', 'stem', 'ext', 'dir'];
/** Extensions of two parts that name one format: `app.tar.gz` is `app` + `.tar.gz`. */
const COMPOUND_EXTENSIONS = ['.tar.gz', '.tar.xz', '.tar.bz2', '.tar.zst'];
/** A file's base name split before its extension, compound extensions kept whole. */
function splitName(name) {
    const lower = name.toLowerCase();
    const compound = COMPOUND_EXTENSIONS.find((ext) => lower.endsWith(ext) && name.length > ext.length);
    const ext = compound !== undefined ? name.slice(-compound.length) : external_node_path_.extname(name);
    return { stem: name.slice(0, name.length - ext.length), ext };
}
/** The values of the placeholders for one file. */
function placeholdersOf(file) {
    const name = external_node_path_.basename(file);
    return { name, ...splitName(name), dir: external_node_path_.basename(external_node_path_.dirname(file)) };
}
/**
 * Parses a template; throws, naming the problem, on an unknown placeholder or an unclosed
 * `{`. Resolves to the function that names a file. What it makes is checked as any download
 * name is (not empty, no `/`, `\` or control character), with the file named in the error.
 */
function parseNameTemplate(template) {
    const parts = [];
    for (let at = 0; at < template.length;) {
        const open = template.indexOf('{', at);
        if (open === -1) {
            parts.push({ text: template.slice(at) });
            break;
        }
        if (open > at)
            parts.push({ text: template.slice(at, open) });
        const close = template.indexOf('}', open);
        if (close === -1) {
            throw new Error(`Input 'name-template' has a '{' without its '}' at position ${open + 1}: '${template}'. Placeholders: ${PLACEHOLDERS.map((p) => `{${p}}`).join(', ')}.`);
        }
        const name = template.slice(open + 1, close);
        if (!PLACEHOLDERS.includes(name)) {
            throw new Error(`Input 'name-template' has an unknown placeholder {${name}}: '${template}'. Placeholders: ${PLACEHOLDERS.map((p) => `{${p}}`).join(', ')}.`);
        }
        parts.push({ placeholder: name });
        at = close + 1;
    }
    if (template.includes('}') && !parts.some((p) => 'placeholder' in p)) {
        throw new Error(`Input 'name-template' has a '}' without its '{': '${template}'.`);
    }
    return (file) => {
        const values = placeholdersOf(file);
        return parts.map((part) => ('text' in part ? part.text : values[part.placeholder])).join('');
    };
}

// EXTERNAL MODULE: external "node:net"
var external_node_net_ = __webpack_require__(7030);
;// CONCATENATED MODULE: ./src/urls.ts

/**
 * Whether a URL host is this machine. Only such hosts may be reached over plain http: the
 * token and the files must never cross a network unencrypted.
 */
function isLoopbackHost(hostname) {
    const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
    if (host === 'localhost' || host.endsWith('.localhost'))
        return true;
    if ((0,external_node_net_.isIP)(host) === 4)
        return host.startsWith('127.');
    if ((0,external_node_net_.isIP)(host) === 6)
        return host === '::1' || host === '0:0:0:0:0:0:0:1';
    return false;
}
/** Whether a URL may carry data: https anywhere, http only to loopback. */
function isSecureOrLocal(url) {
    return url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname));
}

;// CONCATENATED MODULE: ./src/inputs.ts




/** Reads every input and fails on the first bad one, naming it and what it accepts. */
function inputs_readInputs() {
    const patterns = lib_core/* getMultilineInput */.q3('glob', { required: true })
        .map((line) => line.trim())
        .filter((line) => line !== '' && !line.startsWith('#'));
    if (patterns.length === 0) {
        throw new Error("Input 'glob' has no pattern: give one or more file patterns, one per line.");
    }
    if (patterns.every((line) => line.startsWith('!'))) {
        throw new Error("Input 'glob' only excludes (every line starts with '!'): add a pattern that selects files.");
    }
    const token = lib_core/* getInput */.V4('token');
    if (token === '') {
        throw new Error("Input 'token' is empty: pass a token that can write the repository, e.g. `token: ${{ github.token }}`.");
    }
    // Masked before anything can print it: the runner masks github.token and secrets, but not
    // a token that reached the input some other way (a step output, a file).
    lib_core/* setSecret */.Pq(token);
    const { owner, repo } = parseRepository(lib_core/* getInput */.V4('repository'));
    return {
        patterns,
        description: lib_core/* getInput */.V4('description'),
        replaceExisting: readBoolean('replace-existing'),
        token,
        owner,
        repo,
        apiUrl: parseApiUrl(lib_core/* getInput */.V4('api-url') || process.env.GITHUB_API_URL || ''),
        ifNoFilesFound: readChoice('if-no-files-found', ['error', 'warn', 'ignore']),
        includeHiddenFiles: readBoolean('include-hidden-files'),
        dryRun: readBoolean('dry-run'),
        concurrency: readInteger('concurrency', 1, 32),
        maxAttempts: readInteger('max-attempts', 1, 20),
        rateLimitWait: readInteger('rate-limit-wait', 0, 3600),
        nameOf: readNameTemplate(),
        checksumsFile: readChecksumsFile(),
        prune: lib_core/* getMultilineInput */.q3('prune')
            .map((line) => line.trim())
            .filter((line) => line !== '' && !line.startsWith('#')),
        pruneKeep: readInteger('prune-keep', 0, 10_000),
        workspace: process.env.GITHUB_WORKSPACE || process.cwd()
    };
}
function readNameTemplate() {
    const template = lib_core/* getInput */.V4('name-template') || '{name}';
    return template === '{name}' ? undefined : parseNameTemplate(template);
}
function readChecksumsFile() {
    const name = lib_core/* getInput */.V4('checksums-file');
    if (name === '')
        return undefined;
    const problem = nameProblem(name);
    if (problem !== undefined) {
        throw new Error(`Input 'checksums-file' must be a download name; got ${showName(name)} (${problem}).`);
    }
    return name;
}
function readBoolean(name) {
    const raw = lib_core/* getInput */.V4(name);
    // getBooleanInput throws a message that does not say which values it takes in our words;
    // keep the YAML 1.2 core schema it implements, with our wording.
    if (/^(true|True|TRUE)$/.test(raw))
        return true;
    if (/^(false|False|FALSE)$/.test(raw))
        return false;
    throw new Error(`Input '${name}' must be true or false, got '${raw}'.`);
}
function readChoice(name, choices) {
    const raw = lib_core/* getInput */.V4(name).toLowerCase();
    const found = choices.find((choice) => choice === raw);
    if (found === undefined) {
        throw new Error(`Input '${name}' must be one of ${choices.join(', ')}; got '${raw}'.`);
    }
    return found;
}
function readInteger(name, min, max) {
    const raw = lib_core/* getInput */.V4(name);
    const value = Number(raw);
    if (!/^\d+$/.test(raw) || value < min || value > max) {
        throw new Error(`Input '${name}' must be a whole number from ${min} to ${max}; got '${raw}'.`);
    }
    return value;
}
/** `owner/name` as GitHub allows them: letters, digits, `-`, `_`, `.`. */
function parseRepository(raw) {
    const match = /^([A-Za-z0-9](?:[A-Za-z0-9-]{0,38}))\/([A-Za-z0-9._-]{1,100})$/.exec(raw.trim());
    if (!match || match[2] === '.' || match[2] === '..') {
        throw new Error(`Input 'repository' must be 'owner/name' (e.g. octocat/hello-world); got '${raw}'.`);
    }
    return { owner: match[1], repo: match[2] };
}
/**
 * The API base. The token travels to it, so plain `http` is refused unless the host is this
 * machine (the bundled emulator).
 */
function parseApiUrl(raw) {
    let url;
    try {
        url = new URL(raw.trim());
    }
    catch {
        throw new Error(`Input 'api-url' must be the REST API's base URL (e.g. https://api.github.com); got '${raw}'.`);
    }
    if (!isSecureOrLocal(url)) {
        throw new Error(`Input 'api-url' must use https (plain http is accepted only for localhost); got '${raw}'.`);
    }
    // A bare `?` or `#` leaves search and hash empty but would still swallow every path we append.
    if (/[?#]/.test(raw) || url.username !== '' || url.password !== '') {
        throw new Error(`Input 'api-url' must be a plain base URL without query, fragment or credentials; got '${raw}'.`);
    }
    return url.href.replace(/\/+$/, '');
}

;// CONCATENATED MODULE: ./src/journal.ts


class journal_Journal {
    path;
    fd;
    /** What this process recorded, in order. */
    entries = [];
    constructor(path, fd) {
        this.path = path;
        this.fd = fd;
    }
    /** Opens (creating or appending to) the journal at `path`. */
    static open(path) {
        const fd = (0,external_node_fs_.openSync)(path, 'a+', 0o600);
        // A kill in the middle of a write leaves a line without its end: start on a fresh line,
        // so that the next entry is not glued to the broken one.
        const size = (0,external_node_fs_.fstatSync)(fd).size;
        if (size > 0) {
            const last = Buffer.alloc(1);
            (0,external_node_fs_.readSync)(fd, last, 0, 1, size - 1);
            if (last[0] !== 0x0a)
                (0,external_node_fs_.writeSync)(fd, '\n');
        }
        return new journal_Journal(path, fd);
    }
    /**
     * Appends an entry and waits until it is on disk. Synchronous on purpose: once this returns
     * the entry survives the process, and no other work can slip in between it and the change
     * it announces. It costs about a tenth of a millisecond.
     */
    record(entry) {
        if (this.fd === null)
            throw new Error('the journal is closed');
        (0,external_node_fs_.writeSync)(this.fd, `${JSON.stringify(entry)}\n`);
        (0,external_node_fs_.fdatasyncSync)(this.fd);
        this.entries.push(entry);
    }
    close() {
        if (this.fd !== null)
            (0,external_node_fs_.closeSync)(this.fd);
        this.fd = null;
    }
    /**
     * Reads a journal. A line cut short (a kill in the middle of a write) or otherwise unreadable
     * is passed over: every complete entry before and after it still counts.
     */
    static async read(path) {
        const text = await (0,promises_.readFile)(path, 'utf8');
        const entries = [];
        let skipped = 0;
        for (const line of text.split('\n')) {
            if (line.trim() === '')
                continue;
            try {
                const entry = JSON.parse(line);
                if (typeof entry?.op === 'string')
                    entries.push(entry);
                else
                    skipped++;
            }
            catch {
                skipped++;
            }
        }
        return { entries, skipped };
    }
}
/**
 * Folds the entries into the state of each name, in the order written. A name is settled when
 * its bytes landed, or when nothing was created for it and nothing it had is missing.
 */
function journal_namesToSettle(entries) {
    const states = new Map();
    const of = (name) => {
        let state = states.get(name);
        if (state === undefined) {
            state = { name, createPending: false, landed: false };
            states.set(name, state);
        }
        return state;
    };
    for (const entry of entries) {
        switch (entry.op) {
            case 'create':
                Object.assign(of(entry.name), { createPending: true, createdId: undefined, landed: false });
                break;
            case 'created':
                // Also after a `removed`: a create made again (a lost answer cleared) reopens the name.
                Object.assign(of(entry.name), { createPending: true, createdId: entry.id, landed: false });
                break;
            case 'landed':
                Object.assign(of(entry.name), {
                    createPending: false,
                    landed: true,
                    replaced: undefined
                });
                break;
            case 'removed':
                Object.assign(of(entry.name), { createPending: false, createdId: undefined });
                break;
            case 'delete':
                // A download without bytes holds nothing to put back: only its successor's record
                // (a pending create) can be left half-made.
                if (entry.copy !== null)
                    of(entry.name).replaced = { ...entry, deleted: false };
                break;
            case 'deleted': {
                const replaced = of(entry.name).replaced;
                if (replaced?.id === entry.id)
                    replaced.deleted = true;
                break;
            }
            case 'kept': {
                const state = of(entry.name);
                if (state.replaced?.id === entry.id)
                    state.replaced = undefined;
                break;
            }
            case 'restored':
                // The restore's own create and landed entries come before this one.
                Object.assign(of(entry.name), { createPending: false, replaced: undefined });
                break;
        }
    }
    return [...states.values()].filter((state) => !state.landed && (state.createPending || state.replaced !== undefined));
}
/** Whether the journal ends with a clean finish. */
function journal_finishedCleanly(entries) {
    return entries.some((entry) => entry.op === 'done');
}

;// CONCATENATED MODULE: ./src/local-file.ts



/**
 * A file to upload, held open from before the first change made for it until its upload
 * ended. Opening first means a file that vanished or became unreadable after the glob ran
 * fails the file at once, naming its path, before an old download is deleted for it; holding
 * the handle means every retry reads the very file that was checked.
 */
class LocalFile {
    artifact;
    handle;
    constructor(artifact, handle) {
        this.artifact = artifact;
        this.handle = handle;
    }
    static async open(artifact) {
        let handle;
        try {
            handle = await (0,promises_.open)(artifact.path, 'r');
        }
        catch (error) {
            throw localFileError(artifact, error);
        }
        const file = new LocalFile(artifact, handle);
        try {
            await file.checkSize();
        }
        catch (error) {
            await handle.close();
            throw error;
        }
        return file;
    }
    /** Reads `length` bytes at `position` into `buffer`; a short read means the file shrank. */
    async read(buffer, length, position) {
        let bytesRead;
        try {
            ;
            ({ bytesRead } = await this.handle.read(buffer, 0, length, position));
        }
        catch (error) {
            throw localFileError(this.artifact, error);
        }
        if (bytesRead < length)
            throw fileChanged(this.artifact);
        return buffer.subarray(0, bytesRead);
    }
    /** Throws when the file's size is no longer the one measured when the run began. */
    async checkSize() {
        let size;
        try {
            size = (await this.handle.stat()).size;
        }
        catch (error) {
            throw localFileError(this.artifact, error);
        }
        if (size !== this.artifact.size)
            throw fileChanged(this.artifact);
    }
    async close() {
        await this.handle.close().catch(() => undefined);
    }
}
function localFileError(artifact, error) {
    const code = error?.code;
    const why = code === 'ENOENT'
        ? 'it no longer exists'
        : code === 'EACCES' || code === 'EPERM'
            ? 'permission denied'
            : error instanceof Error
                ? error.message
                : String(error);
    return new LocalFileError(`Cannot read ${artifact.path} (${why}): make sure no later step removes or locks it before this one.`, { cause: error });
}
function fileChanged(artifact) {
    return new LocalFileError(`${artifact.path} changed while it was uploaded (it was ${artifact.size} bytes when the run began): make sure no other step writes it.`);
}
/** MD5 and SHA-256 of a file, in one pass. */
async function digestsOf(artifact) {
    const file = await LocalFile.open(artifact);
    const md5 = (0,external_node_crypto_.createHash)('md5');
    const sha256 = (0,external_node_crypto_.createHash)('sha256');
    const buffer = Buffer.allocUnsafe(Math.max(1, Math.min(1024 * 1024, artifact.size)));
    try {
        for (let at = 0; at < artifact.size;) {
            const chunk = await file.read(buffer, Math.min(buffer.length, artifact.size - at), at);
            md5.update(chunk);
            sha256.update(chunk);
            at += chunk.length;
        }
    }
    finally {
        await file.close();
    }
    return { md5: md5.digest('hex'), sha256: sha256.digest('hex') };
}

;// CONCATENATED MODULE: ./src/log.ts

/**
 * The log, safe from what it quotes. The runner reads every line of a step's output that
 * starts with `::` as a workflow command, and `core.info` writes its text as it is: a file
 * name, a path or a server message holding a line break could start a line with
 * `::warning …`, `::add-mask::` or `::stop-commands::` (workflow-command injection). Every
 * plain log line goes through here, with control characters shown as escapes. `warning`
 * and `error` are commands whose text @actions/core escapes already.
 */
function info(message) {
    lib_core/* info */.pq(printable(message));
}
function warning(message) {
    lib_core/* warning */.$e(message);
}
function error(message) {
    lib_core/* error */.z3(message);
}
/**
 * The text with every control character (C0, DEL, C1) and the Unicode line and paragraph
 * separators written as escapes (`\n`, `\t`, `\x1b`, `\u2028`), so that it stays on one
 * line and cannot move the terminal's cursor either.
 */
function printable(text) {
    // eslint-disable-next-line no-control-regex -- matching control characters is the point
    return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => {
        const named = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };
        const code = c.charCodeAt(0);
        return (named[c] ??
            (code > 0xff ? `\\u${code.toString(16)}` : `\\x${code.toString(16).padStart(2, '0')}`));
    });
}

;// CONCATENATED MODULE: ./src/report.ts





/**
 * GitHub caps one output at 1 MB and a step's summary at 1 MiB; past that the step fails or
 * the summary is dropped. Both stay under these budgets, with room for the rest.
 */
const OUTPUT_BUDGET = 900_000;
const SUMMARY_BUDGET = 900 * 1024;
/**
 * Sets the outputs, in file-name order: every file that is now published, whether this run
 * uploaded it or found it already there. `downloads-file` names a JSON file (under
 * RUNNER_TEMP, so later steps of the job can read it) with the whole list; `downloads` holds
 * as much of it as fits in an output, and the log says when it was cut.
 */
function setOutputs(published) {
    const sorted = [...published].sort((a, b) => compareNames(a.artifact.name, b.artifact.name));
    const entries = sorted.map((p) => ({
        id: p.download.id,
        name: p.download.name,
        size: p.artifact.size,
        content_type: p.mimeType,
        url: p.download.url,
        html_url: p.download.htmlUrl,
        sha256: p.sha256,
        status: p.status
    }));
    const file = external_node_path_.join(process.env.RUNNER_TEMP || (0,external_node_os_.tmpdir)(), `upload-downloads-${process.pid}-${Date.now()}.json`);
    (0,external_node_fs_.writeFileSync)(file, JSON.stringify(entries, null, 2));
    lib_core/* setOutput */.uH('downloads-file', file);
    lib_core/* setOutput */.uH('count', String(sorted.length));
    const urls = fitLines(entries.map((e) => e.html_url), OUTPUT_BUDGET);
    lib_core/* setOutput */.uH('urls', urls.text);
    const downloads = fitJsonArray(entries, OUTPUT_BUDGET);
    lib_core/* setOutput */.uH('downloads', downloads.text);
    const cut = Math.max(entries.length - urls.kept, entries.length - downloads.kept);
    if (cut > 0) {
        warning(`The 'downloads' and 'urls' outputs hold the first ${Math.min(urls.kept, downloads.kept)} of ${entries.length} files (GitHub caps an output at 1 MB); the whole list is in ${file}, the 'downloads-file' output.`);
    }
}
/** As many lines as fit in `budget` bytes, joined by newlines. */
function fitLines(lines, budget) {
    let size = 0;
    let kept = 0;
    for (const line of lines) {
        const next = size + Buffer.byteLength(line) + (kept > 0 ? 1 : 0);
        if (next > budget)
            break;
        size = next;
        kept++;
    }
    return { text: lines.slice(0, kept).join('\n'), kept };
}
/** A JSON array of as many leading items as fit in `budget` bytes. */
function fitJsonArray(items, budget) {
    const parts = [];
    let size = 2;
    for (const item of items) {
        const part = JSON.stringify(item);
        const next = size + Buffer.byteLength(part) + (parts.length > 0 ? 1 : 0);
        if (next > budget)
            break;
        size = next;
        parts.push(part);
    }
    return { text: `[${parts.join(',')}]`, kept: parts.length };
}
/**
 * The outputs of a dry run: nothing was uploaded (`count` 0, no URLs), and `downloads`
 * lists what would be, with what is known before the server is asked: name, size, the
 * content type we would declare, SHA-256, and whether it would create or replace.
 */
function setPlannedOutputs(plan) {
    lib_core/* setOutput */.uH('urls', '');
    lib_core/* setOutput */.uH('downloads', JSON.stringify(plan.map(({ item, sha256 }) => ({
        id: null,
        name: item.artifact.name,
        size: item.artifact.size,
        content_type: item.artifact.contentType,
        url: null,
        html_url: null,
        sha256,
        planned: item.action
    }))));
    lib_core/* setOutput */.uH('count', '0');
}
/** Writes the job summary: what landed, what replaced what, what failed, and the totals. */
async function writeSummary(report) {
    const summary = lib_core/* summary */.z;
    const { published, failed } = report;
    if (report.dryRun) {
        summary.addHeading(`Downloads for ${report.repository}: dry run, nothing changed`, 2);
        summary.addTable([
            [
                { data: 'File', header: true },
                { data: 'Size', header: true },
                { data: 'Action', header: true }
            ],
            ...fitRows(report.planned.map((item) => [
                escapeHtml(item.artifact.name),
                humanSize(item.artifact.size),
                item.action === 'create'
                    ? 'create'
                    : item.action === 'replace'
                        ? `replace download ${item.replaces.id}${item.reason === 'no-bytes' ? ' (holds no bytes)' : ''}`
                        : `unchanged (download ${item.existing.id} holds these bytes)`
            ]), SUMMARY_BUDGET * 0.8, 'the log has the whole plan')
        ]);
        addPruned(report.pruned, 'Would prune');
        await flush();
        return;
    }
    const status = report.cancelled !== undefined
        ? `cancelled (${report.cancelled})`
        : failed.length === 0
            ? 'published'
            : `${failed.length} failed`;
    summary.addHeading(`Downloads for ${report.repository}: ${status}`, 2);
    if (published.length > 0) {
        const sorted = [...published].sort((a, b) => compareNames(a.artifact.name, b.artifact.name));
        summary.addTable([
            [
                { data: 'File', header: true },
                { data: 'Size', header: true },
                { data: 'SHA-256', header: true },
                { data: 'Download', header: true },
                { data: 'Status', header: true }
            ],
            ...fitRows(sorted.map((p) => [
                escapeHtml(p.artifact.name),
                humanSize(p.artifact.size),
                `<code>${p.sha256.slice(0, 12)}</code>`,
                `<a href="${escapeHtml(p.download.htmlUrl)}">${escapeHtml(p.download.htmlUrl)}</a>`,
                p.status === 'replaced' && p.replaced
                    ? `replaced download ${p.replaced.id}`
                    : p.status === 'unchanged'
                        ? 'unchanged'
                        : 'created'
            ]), failed.length > 0 ? SUMMARY_BUDGET * 0.6 : SUMMARY_BUDGET, "the 'downloads-file' output has the whole list")
        ]);
    }
    if (failed.length > 0) {
        summary.addHeading(report.cancelled !== undefined ? 'Stopped and undone' : 'Not published', 3);
        const items = fitRows(failed.map((f) => [`${escapeHtml(f.name)}: ${escapeHtml(f.message)}`]), SUMMARY_BUDGET * 0.3, 'the log has one error per file');
        summary.addList(items.map(([item]) => item));
    }
    addPruned(report.pruned, 'Pruned');
    if (report.unsettled !== undefined && report.unsettled.length > 0) {
        summary.addRaw(`Left half-done, for the post step to settle: ${report.unsettled.map(escapeHtml).join(', ')}.`, true);
    }
    const uploaded = published.filter((p) => p.status !== 'unchanged');
    const unchanged = published.length - uploaded.length;
    const bytes = uploaded.reduce((sum, p) => sum + p.artifact.size, 0);
    const seconds = report.elapsedMs / 1000;
    summary.addRaw(`${uploaded.length} file${uploaded.length === 1 ? '' : 's'} uploaded, ${humanSize(bytes)} in ${seconds.toFixed(1)} s` +
        (seconds > 0 ? ` (${humanSize(bytes / seconds)}/s)` : '') +
        (unchanged > 0 ? `; ${unchanged} unchanged` : ''), true);
    await flush();
}
/** The post step's summary: what it found half-done, and what it did about each name. */
async function report_writeRecoverySummary(repository, results) {
    const summary = core.summary;
    const failed = results.filter((r) => !r.ok).length;
    summary.addHeading(`Downloads for ${repository}: the post step settled what the main step left half-done` +
        (failed > 0 ? ` (${failed} could not be settled)` : ''), 3);
    summary.addTable([
        [
            { data: 'File', header: true },
            { data: 'Outcome', header: true }
        ],
        ...results.map((r) => [escapeHtml(r.name), (r.ok ? '' : '⚠ ') + escapeHtml(r.what)])
    ]);
    await flush();
}
/**
 * The summary of a run that stopped before uploading anything: bad input, a clash, a
 * repository that cannot be listed. Nothing was published, and the reader learns why.
 */
async function writeStoppedSummary(message) {
    lib_core/* summary */.z.addHeading('Downloads: nothing published', 2);
    lib_core/* summary */.z.addRaw(escapeHtml(message), true);
    await flush();
}
/** The old downloads that `prune` deleted, or would delete. */
function addPruned(pruned, heading) {
    if (pruned === undefined || pruned.length === 0)
        return;
    lib_core/* summary */.z.addHeading(`${heading} (${pruned.length})`, 3);
    const items = fitRows(pruned.map((d) => [`${escapeHtml(d.name)} (download ${d.id}, ${escapeHtml(d.createdAt)})`]), SUMMARY_BUDGET * 0.1, 'the log names every one');
    lib_core/* summary */.z.addList(items.map(([item]) => item));
}
/**
 * The leading rows whose HTML fits in `budget` bytes; when some do not, a last row says how
 * many were left out and where to find them.
 */
function fitRows(rows, budget, whereElse) {
    let size = 0;
    let kept = 0;
    for (const row of rows) {
        // Each cell becomes `<td>…</td>`, each row `<tr>…</tr>`.
        size += row.reduce((sum, cell) => sum + Buffer.byteLength(cell) + 9, 9);
        if (size > budget)
            break;
        kept++;
    }
    if (kept === rows.length)
        return rows;
    const more = [
        `… and ${rows.length - kept} more (GitHub caps a job summary at 1 MiB): ${whereElse}.`
    ];
    return [...rows.slice(0, kept), [...more, ...Array(rows[0].length - 1).fill('')]];
}
/** Writes the summary; a run outside a runner (no GITHUB_STEP_SUMMARY) just skips it. */
async function flush() {
    await lib_core/* summary */.z.write().then(() => undefined, (error) => {
        lib_core/* summary */.z.emptyBuffer();
        info(`No job summary written: ${error instanceof Error ? error.message : String(error)}`);
    });
}
/** Sizes as people read them: 1023 B, 1.5 KiB, 20.0 MiB. */
function humanSize(bytes) {
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let value = bytes;
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1) {
        value /= 1024;
        unit++;
    }
    return unit === 0 ? `${Math.round(value)} B` : `${value.toFixed(1)} ${units[unit]}`;
}
/** Byte order of the names, so that output order does not depend on the runner's locale. */
function compareNames(a, b) {
    return a < b ? -1 : a > b ? 1 : 0;
}
function escapeHtml(text) {
    return text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] ?? c);
}

;// CONCATENATED MODULE: ./src/checksums.ts





/**
 * The checksums file's text, exactly what `sha256sum -c` reads (and what
 * actions/attest-build-provenance takes as `subject-checksums`): `<64 hex>  <name>` a line,
 * in byte order of the names.
 */
function checksumsText(files) {
    return [...files]
        .sort((a, b) => compareNames(a.name, b.name))
        .map((f) => `${f.sha256}  ${f.name}\n`)
        .join('');
}
/**
 * Writes the checksums file under the runner's temp folder, where a later step of the job
 * can read it (`checksums-path`), and describes it as a file to publish.
 */
async function writeChecksums(name, files) {
    const dir = external_node_path_.join(process.env.RUNNER_TEMP || (0,external_node_os_.tmpdir)(), `upload-downloads-checksums-${process.pid}`);
    await (0,promises_.mkdir)(dir, { recursive: true });
    const file = external_node_path_.join(dir, name);
    const text = checksumsText(files);
    await (0,promises_.writeFile)(file, text);
    return { path: file, name, size: Buffer.byteLength(text), contentType: contentTypeOf(name) };
}

;// CONCATENATED MODULE: ./src/plan.ts

/**
 * Without a usable ETag the bytes themselves are compared, but only for files this small:
 * reading a large download back just to compare it would cost more than replacing it.
 */
const COMPARE_BYTES_LIMIT = 8 * 1024 * 1024;
/**
 * Matches the files against the existing downloads. A download without bytes holds no user
 * data, so it is replaced whatever `replace-existing` says; one that holds exactly the file's
 * bytes is left as it is (`unchanged`), so that re-running a finished job changes nothing.
 * Any other clash without `replaceExisting` stops the run here, before anything was changed,
 * naming every clash at once so that one fix suffices.
 */
async function makePlan(artifacts, existing, replaceExisting, repository, inspect) {
    const byName = new Map(existing.map((d) => [d.name, d]));
    const plan = [];
    const clashes = [];
    for (const artifact of artifacts) {
        const download = byName.get(artifact.name);
        if (download === undefined) {
            plan.push({ action: 'create', artifact });
            continue;
        }
        const verdict = await compare(artifact, download, inspect);
        if (verdict.kind === 'no-bytes') {
            plan.push({ action: 'replace', artifact, replaces: download, reason: 'no-bytes' });
        }
        else if (verdict.kind === 'same') {
            plan.push({ action: 'unchanged', artifact, existing: download, digests: verdict.digests });
        }
        else if (replaceExisting) {
            plan.push({ action: 'replace', artifact, replaces: download, reason: 'replace-existing' });
        }
        else {
            clashes.push(verdict.note ? `${artifact.name} (${verdict.note})` : artifact.name);
        }
    }
    if (clashes.length > 0) {
        throw new Error(`${clashes.length} download${clashes.length === 1 ? '' : 's'} already exist${clashes.length === 1 ? 's' : ''} in ${repository} with the same name and other bytes: ${clashes.join(', ')}. Nothing was changed. Set 'replace-existing: true' to replace them, or rename the files.`);
    }
    return plan;
}
async function compare(artifact, download, inspect) {
    let stored;
    try {
        stored = await inspect.stored(download);
    }
    catch (error) {
        // Unknown is treated as "holds the user's bytes": never replaced unasked.
        return { kind: 'differs', note: `its bytes could not be read: ${errors_describe(error)}` };
    }
    if (stored === null)
        return { kind: 'no-bytes' };
    if (stored.size !== artifact.size)
        return { kind: 'differs' };
    const digests = await inspect.digestsOf(artifact);
    if (stored.md5 !== null) {
        return stored.md5 === digests.md5 ? { kind: 'same', digests } : { kind: 'differs' };
    }
    if (artifact.size > COMPARE_BYTES_LIMIT) {
        return { kind: 'differs', note: 'the server gives no MD5 to compare with' };
    }
    const storedMd5 = await inspect.storedMd5(download).catch(() => null);
    return storedMd5 === digests.md5 ? { kind: 'same', digests } : { kind: 'differs' };
}
/** The plan's line for one file, for the log and the dry run. */
function describeItem(item) {
    switch (item.action) {
        case 'create':
            return `create ${item.artifact.name}`;
        case 'replace':
            return item.reason === 'no-bytes'
                ? `replace ${item.artifact.name} (download ${item.replaces.id} holds no bytes: an unfinished upload)`
                : `replace ${item.artifact.name} (download ${item.replaces.id})`;
        case 'unchanged':
            return `unchanged ${item.artifact.name} (download ${item.existing.id} already holds these bytes)`;
    }
}

;// CONCATENATED MODULE: ./src/prune.ts
/**
 * Which existing downloads `prune` removes: those whose names match a pattern (`*` and `?`
 * within a name), less the downloads this run published or left unchanged, less the newest
 * `keep` of the rest (by `created_at`, then id). A nightly job with `prune: app-nightly-*`
 * and `prune-keep: 4` keeps five nightlies: today's and four before it.
 */
function downloadsToPrune(existing, patterns, keep, ownNames) {
    if (patterns.length === 0)
        return [];
    const matchers = patterns.map(globToRegExp);
    const candidates = existing
        .filter((d) => !ownNames.has(d.name) && matchers.some((m) => m.test(d.name)))
        .sort(newestFirst);
    return candidates.slice(keep);
}
function newestFirst(a, b) {
    if (a.createdAt !== b.createdAt)
        return a.createdAt < b.createdAt ? 1 : -1;
    return b.id - a.id;
}
/** `*` any run of characters, `?` one character, everything else itself. */
function globToRegExp(pattern) {
    const body = [...pattern]
        .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[\\^$.|+()[\]{}]/g, '\\$&')))
        .join('');
    return new RegExp(`^${body}$`, 's');
}

;// CONCATENATED MODULE: ./src/pool.ts
/** A concurrency limit that can be lowered while work runs (after a secondary rate limit). */
class AdaptiveLimit {
    value;
    constructor(value) {
        this.value = value;
    }
    get current() {
        return this.value;
    }
    /** Halves the limit, down to one at a time; tells whether it changed. */
    lower() {
        const before = this.value;
        this.value = Math.max(1, Math.floor(this.value / 2));
        return this.value !== before;
    }
}
/**
 * Runs `task` over every item with at most `limit.current` at once, starting items in
 * order. Every item runs even when others fail; the results come back in item order.
 */
async function settleAll(items, limit, task) {
    const results = new Array(items.length);
    const running = new Set();
    for (let i = 0; i < items.length; i++) {
        while (running.size >= limit.current)
            await Promise.race(running);
        const index = i;
        const job = task(items[index]).then((value) => {
            results[index] = { status: 'fulfilled', value };
        }, (reason) => {
            results[index] = { status: 'rejected', reason };
        });
        const tracked = job.finally(() => running.delete(tracked));
        running.add(tracked);
    }
    await Promise.all(running);
    return results;
}

;// CONCATENATED MODULE: ./src/progress.ts


/** Files smaller than this upload in a blink; a progress line would be noise. */
const MIN_SIZE = 8 * 1024 * 1024;
const EVERY_MS = 10_000;
const EVERY_FRACTION = 0.1;
/**
 * Progress lines for large uploads. The Actions log is not a terminal (no carriage-return
 * redraws), so a line is written at most every 10% or every 10 seconds.
 */
class ProgressLog {
    now;
    state = new Map();
    constructor(now = Date.now) {
        this.now = now;
    }
    update(artifact, sent) {
        if (artifact.size < MIN_SIZE)
            return;
        const now = this.now();
        let state = this.state.get(artifact.path);
        if (state === undefined || sent < state.lastFraction * artifact.size) {
            // First chunk, or a retry started the file over.
            state = { started: now, lastAt: now, lastFraction: 0 };
            this.state.set(artifact.path, state);
        }
        const fraction = sent / artifact.size;
        if (fraction < 1 &&
            fraction - state.lastFraction < EVERY_FRACTION &&
            now - state.lastAt < EVERY_MS) {
            return;
        }
        state.lastAt = now;
        state.lastFraction = fraction;
        const seconds = (now - state.started) / 1000;
        const rate = seconds > 0 ? `, ${humanSize(sent / seconds)}/s` : '';
        info(`${artifact.name}: ${Math.floor(fraction * 100)}% (${humanSize(sent)} of ${humanSize(artifact.size)}${rate})`);
        if (fraction >= 1)
            this.state.delete(artifact.path);
    }
}

;// CONCATENATED MODULE: ./src/retry.ts

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
/** Resolves after `ms`, or as soon as `signal` aborts. */
function sleepUnless(ms, signal, wait) {
    return new Promise((resolve) => {
        const done = () => {
            signal.removeEventListener('abort', done);
            resolve();
        };
        signal.addEventListener('abort', done);
        void wait(ms).then(done);
    });
}
/** Whether another attempt could succeed: network faults, 5xx, 429, S3's busy codes. */
function isTransient(error) {
    return error instanceof ActionError && error.transient;
}
/**
 * Runs `attempt` until it succeeds, it fails for good, or the attempts run out. Waits
 * between attempts grow exponentially, half of each drawn at random (AWS's "equal jitter"),
 * so a burst of parallel uploads does not retry in lockstep.
 */
async function withRetry(what, options, attempt) {
    const wait = options.sleep ?? sleep;
    const random = options.random ?? Math.random;
    for (let n = 1;; n++) {
        try {
            return await attempt(n);
        }
        catch (error) {
            if (!isTransient(error))
                throw error;
            if (options.signal?.aborted) {
                throw new CancelledError(`${what}: cancelled after attempt ${n} (${errors_describe(error)})`);
            }
            if (n >= options.maxAttempts) {
                throw new ActionError(`${what} failed: ${errors_describe(error)} (gave up after ${n} attempt${n === 1 ? '' : 's'})`, { cause: error });
            }
            const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** (n - 1));
            const delayMs = error instanceof ActionError && error.retryAfterMs !== undefined
                ? error.retryAfterMs
                : Math.round(ceiling / 2 + (random() * ceiling) / 2);
            options.onRetry?.({ what, attempt: n, delayMs, error });
            if (options.signal === undefined)
                await wait(delayMs);
            else
                await sleepUnless(delayMs, options.signal, wait);
            if (options.signal?.aborted) {
                throw new CancelledError(`${what}: cancelled after attempt ${n} (${errors_describe(error)})`);
            }
        }
    }
}

;// CONCATENATED MODULE: ./src/downloads-api.ts



/**
 * A create whose outcome is unknown: an attempt's answer was lost, so the server may hold a
 * record without bytes that this run made. `exists`: a retry met `already_exists`, so it
 * certainly holds one.
 */
class LostCreateError extends ActionError {
    exists;
    constructor(message, exists, cause) {
        super(message, { cause });
        this.exists = exists;
    }
}
/** GitHub's maximum page size for list endpoints. */
const PAGE_SIZE = 100;
/**
 * The Downloads API of one repository (list, create, delete), with retries on transient
 * faults and GitHub's rate limits honoured. The token goes to the API origin and nowhere
 * else: redirects are not followed and `Link` pages on another origin are refused.
 */
class DownloadsApi {
    http;
    repository;
    retry;
    gate;
    base;
    origin;
    constructor(http, repository, retry, gate) {
        this.http = http;
        this.repository = repository;
        this.retry = retry;
        this.gate = gate;
        this.base = `${repository.apiUrl}/repos/${encodeURIComponent(repository.owner)}/${encodeURIComponent(repository.repo)}/downloads`;
        this.origin = new URL(repository.apiUrl).origin;
    }
    get slug() {
        return `${this.repository.owner}/${this.repository.repo}`;
    }
    /** Every existing download, following `Link: rel="next"` through all pages. */
    async list() {
        const downloads = [];
        let url = `${this.base}?per_page=${PAGE_SIZE}`;
        while (url !== undefined) {
            const page = url;
            const { items, next } = await this.call(`Listing the downloads of ${this.slug}`, { method: 'GET', url: page }, async (res) => {
                const body = parseJson(await res.text(), 'the list of downloads');
                if (!Array.isArray(body))
                    throw new ApiError('The list of downloads is not a JSON array.', res.status);
                return { items: body.map(toDownload), next: nextLink(res.headers['link']) };
            });
            downloads.push(...items);
            if (next !== undefined && new URL(next).origin !== this.origin) {
                throw new ApiError(`The API sent the next page to another origin (${new URL(next).origin}); refusing to send the token there.`, 200);
            }
            url = next;
        }
        return downloads;
    }
    /**
     * Creates the download resource. When an attempt's answer may have been lost (the
     * connection dropped after the server acted, or a gateway's 5xx), the server may hold a
     * record this call made: a later failure, `already_exists` included, then comes back as a
     * {@link LostCreateError} so that the caller can find that record and clear it.
     */
    async create(spec, signal) {
        let answerLost = false;
        try {
            return await withRetry(`Creating download ${spec.name}`, { ...this.retry, signal }, async () => {
                try {
                    return await this.once({
                        method: 'POST',
                        url: this.base,
                        body: JSON.stringify({
                            name: spec.name,
                            size: spec.size,
                            description: spec.description,
                            content_type: spec.contentType
                        })
                    }, async (res) => toTicket(parseJson(await res.text(), 'the created download')));
                }
                catch (error) {
                    if (error instanceof NetworkError ||
                        (error instanceof ApiError && error.status >= 500)) {
                        answerLost = true;
                    }
                    throw error;
                }
            });
        }
        catch (error) {
            if (!answerLost)
                throw error;
            const exists = error instanceof ApiError && error.codes.includes('already_exists');
            throw new LostCreateError(exists
                ? `The answer to creating ${spec.name} was lost, and the server made it.`
                : `Creating ${spec.name} failed after an answer was lost, so the server may hold a record of it: ${errors_describe(error)}`, exists, error);
        }
    }
    /**
     * Deletes a download. With `mustExist` (the download this run is replacing), a 404 on the
     * first try means somebody else deleted it meanwhile, which the caller must hear of; after
     * a try whose answer was lost it means that try did the work.
     */
    async delete(id, { mustExist = false } = {}) {
        let answerLost = false;
        await withRetry(`Deleting download ${id}`, this.retry, async () => {
            try {
                await this.once({ method: 'DELETE', url: `${this.base}/${id}` }, async (res) => {
                    if (res.status === 404 && mustExist && !answerLost) {
                        throw new ConflictError(`download ${id} was deleted by somebody else while this run was replacing it`);
                    }
                    await res.dump();
                }, [404]);
            }
            catch (error) {
                if (error instanceof NetworkError || (error instanceof ApiError && error.status >= 500)) {
                    answerLost = true;
                }
                throw error;
            }
        });
    }
    /** The downloads named `name` (at most one, unless another writer raced this run). */
    async findByName(name) {
        return (await this.list()).filter((d) => d.name === name);
    }
    call(what, request, read, okStatuses = []) {
        return withRetry(what, this.retry, () => this.once(request, read, okStatuses));
    }
    /** One attempt: waits out any rate limit, sends, and turns a failure into a typed error. */
    async once(request, read, okStatuses = []) {
        await this.gate.ready();
        const res = await this.http.request({
            ...request,
            headers: {
                accept: 'application/vnd.github+json',
                authorization: `token ${this.repository.token}`,
                'user-agent': 'upload-downloads-action',
                ...(request.body !== undefined ? { 'content-type': 'application/json; charset=utf-8' } : {})
            }
        });
        this.gate.observe(res.headers);
        if ((res.status >= 200 && res.status < 300) || okStatuses.includes(res.status)) {
            return read(res);
        }
        throw await this.failure(request, res);
    }
    async failure(request, res) {
        const text = await res.text().catch(() => '');
        const body = safeJson(text);
        const message = typeof body?.message === 'string' ? body.message : `HTTP ${res.status}`;
        const limited = this.gate.check(res.status, res.headers, message);
        if (limited)
            return limited;
        const codes = Array.isArray(body?.errors)
            ? body.errors.map((e) => String(e?.code))
            : [];
        const what = `${request.method} ${new URL(request.url).pathname}`;
        switch (res.status) {
            case 401:
                return new ApiError(`The token was refused (${message}): check the 'token' input; it must be able to write ${this.slug}.`, 401);
            case 403:
                return new ApiError(`Forbidden (${message}): the token may read but not write ${this.slug}'s downloads; give it the repo scope or contents: write.`, 403);
            case 404:
                return new ApiError(`Not found (${message}) at ${what}: check 'repository' (${this.slug}), 'api-url' (${this.repository.apiUrl}) and that the token can see the repository, and that the server serves the Downloads API.`, 404);
            case 422:
                return new ApiError(`The server refused the request (${message}${codes.length ? `: ${describeErrors(body?.errors)}` : ''}).`, 422, { codes });
            default: {
                const transient = res.status >= 500 || res.status === 429 || res.status === 408;
                return new ApiError(`${what} answered ${res.status} (${message})`, res.status, {
                    transient
                });
            }
        }
    }
}
function parseJson(text, what) {
    try {
        return JSON.parse(text);
    }
    catch {
        throw new ApiError(`The server's answer with ${what} is not JSON: ${text.slice(0, 200)}`, 200);
    }
}
function safeJson(text) {
    try {
        return JSON.parse(text);
    }
    catch {
        return undefined;
    }
}
function describeErrors(errors) {
    return errors
        .map((e) => [e?.field, e?.code, e?.message].filter(Boolean).join(' '))
        .join('; ');
}
function toDownload(raw) {
    if (typeof raw?.id !== 'number' || typeof raw?.name !== 'string') {
        throw new ApiError(`A download in the server's answer has no id or name: ${JSON.stringify(raw).slice(0, 200)}`, 200);
    }
    return {
        id: raw.id,
        name: raw.name,
        description: String(raw.description ?? ''),
        size: Number(raw.size ?? 0),
        contentType: String(raw.content_type ?? ''),
        url: String(raw.url ?? ''),
        htmlUrl: String(raw.html_url ?? ''),
        createdAt: String(raw.created_at ?? '')
    };
}
function toTicket(raw) {
    const required = [
        'policy',
        'signature',
        'accesskeyid',
        'path',
        'acl',
        'mime_type',
        's3_url'
    ];
    const missing = required.filter((field) => typeof raw?.[field] !== 'string');
    if (missing.length > 0) {
        throw new ApiError(`The created download lacks ${missing.join(', ')}: the server does not look like the Downloads API.`, 201);
    }
    // Masked before anything could print them: together they let anyone write that S3 key.
    for (const secret of [raw.policy, raw.signature, raw.accesskeyid])
        lib_core/* setSecret */.Pq(secret);
    return {
        download: toDownload(raw),
        s3Url: raw.s3_url,
        key: raw.path,
        acl: raw.acl,
        accessKeyId: raw.accesskeyid,
        policy: raw.policy,
        signature: raw.signature,
        mimeType: raw.mime_type
    };
}
/** The `rel="next"` target of a `Link` header (RFC 8288), as GitHub pages its lists. */
function nextLink(header) {
    if (!header)
        return undefined;
    for (const part of header.split(',')) {
        const match = /<([^>]+)>\s*;(.*)/.exec(part.trim());
        if (match && /\brel="?([^"]*\s)?next(\s[^"]*)?"?/.test(match[2]))
            return match[1];
    }
    return undefined;
}

;// CONCATENATED MODULE: ./src/multipart.ts

/**
 * A `multipart/form-data` body (RFC 7578) of text fields and one file last, as S3's POST
 * Object takes it. The framing is fixed before the first byte is sent, so the body's exact
 * length is known: S3 refuses a body without a Content-Length (411 MissingContentLength),
 * and a chunked one. The file's bytes pass through untouched, with no per-chunk framing.
 */
class MultipartForm {
    file;
    boundary = `----upload-downloads-${(0,external_node_crypto_.randomBytes)(12).toString('hex')}`;
    head;
    tail;
    constructor(fields, file) {
        this.file = file;
        const parts = fields.map(([name, value]) => `--${this.boundary}\r\nContent-Disposition: form-data; name="${quote(name)}"\r\n\r\n${value}\r\n`);
        parts.push(`--${this.boundary}\r\nContent-Disposition: form-data; name="file"; filename="${quote(file.filename)}"\r\n` +
            `Content-Type: ${file.contentType}\r\n\r\n`);
        this.head = Buffer.from(parts.join(''), 'utf8');
        this.tail = Buffer.from(`\r\n--${this.boundary}--\r\n`, 'utf8');
    }
    get contentType() {
        return `multipart/form-data; boundary=${this.boundary}`;
    }
    /** The body's length in bytes: framing plus the file. */
    get length() {
        return this.head.length + this.file.size + this.tail.length;
    }
    /** The body: the fields and the file part's header, the file's chunks, the closing line. */
    async *body(fileChunks) {
        yield this.head;
        yield* fileChunks;
        yield this.tail;
    }
}
/**
 * A name or file name inside a quoted header parameter. RFC 7578 §4.2: percent-encode `"`
 * (and line breaks, which would end the header), as browsers do; other UTF-8 goes as is.
 */
function quote(text) {
    return text.replace(/"/g, '%22').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

;// CONCATENATED MODULE: ./src/s3-upload.ts




/**
 * The form fields of the S3 POST, in the order the Downloads API documentation demands
 * ("The order in which you pass these fields matters! Follow the order shown above
 * exactly."). Each value comes from the create answer, which the policy signs: the
 * Content-Type is the server's `mime_type`, never our own guess. `file` follows, last, since
 * S3 ignores every field after it.
 */
function formFields(ticket) {
    return [
        ['key', ticket.key],
        ['acl', ticket.acl],
        ['success_action_status', '201'],
        ['Filename', ticket.download.name],
        ['AWSAccessKeyId', ticket.accessKeyId],
        ['Policy', ticket.policy],
        ['Signature', ticket.signature],
        ['Content-Type', ticket.mimeType]
    ];
}
/** S3's codes that mean "busy or broken now, try again" (AWS S3 error responses). */
const TRANSIENT_CODES = new Set([
    'InternalError',
    'SlowDown',
    'ServiceUnavailable',
    'RequestTimeout'
]);
/**
 * Reads of this size keep per-chunk work (hashing, syscalls, stream hand-offs) negligible
 * while holding only a few chunks in memory at once.
 */
const CHUNK_SIZE = 512 * 1024;
/**
 * POSTs one file to S3 with the signed form from its ticket. The file is streamed from disk
 * (opened afresh on every call, so a retry re-reads it) with a precomputed Content-Length,
 * which S3 requires (a chunked body gets 411); MD5 and SHA-256 are computed on the way
 * out, and S3's ETag must equal the MD5. No Authorization header: the token stays with the
 * API origin.
 */
async function uploadToS3(http, ticket, file, options = {}) {
    const { artifact } = file;
    const target = new URL(ticket.s3Url);
    if (!isSecureOrLocal(target)) {
        throw new S3Error(`The server handed out a plain-http upload URL (${target.origin}); refusing to send ${artifact.name} unencrypted.`, 0, 'InsecureUrl');
    }
    const digests = new Digests();
    const form = new MultipartForm(formFields(ticket), {
        filename: ticket.download.name,
        contentType: ticket.mimeType,
        size: artifact.size
    });
    const res = await http.request({
        method: 'POST',
        url: ticket.s3Url,
        headers: {
            'content-type': form.contentType,
            'content-length': String(form.length),
            'user-agent': 'upload-downloads-action'
        },
        body: form.body(fileChunks(file, digests, options.onProgress)),
        signal: options.signal
    });
    const text = await res.text();
    if (res.status < 200 || res.status >= 300)
        throw s3Failure(artifact.name, res.status, text);
    const result = digests.result();
    const etag = (res.headers['etag'] ?? xmlTag(text, 'ETag') ?? '').replace(/"/g, '');
    // For a single-part upload S3's ETag is the MD5 of the object: an end-to-end check that
    // every byte arrived as sent.
    if (etag !== result.md5) {
        throw new S3Error(`S3 stored ${artifact.name} with ETag ${etag || '(none)'}, but the bytes sent have MD5 ${result.md5}: the upload was corrupted.`, res.status, 'BadDigest', { transient: true });
    }
    return { ...result, etag };
}
function s3Failure(name, status, text) {
    const code = xmlTag(text, 'Code');
    const message = xmlTag(text, 'Message');
    if (code === undefined) {
        return new S3Error(`S3 answered ${status} for ${name}${text ? `: ${text.slice(0, 200)}` : ''}`, status, `HTTP${status}`, { transient: status >= 500 || status === 429 || status === 408 });
    }
    return new S3Error(`S3 refused ${name}: ${code}: ${message ?? ''}`, status, code, {
        transient: TRANSIENT_CODES.has(code) || status >= 500
    });
}
/** The text of the first `<tag>` in a small XML document (S3's answers carry no nesting we need). */
function xmlTag(xml, tag) {
    const match = new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`).exec(xml);
    return match ? unescapeXml(match[1]) : undefined;
}
function unescapeXml(text) {
    return text
        .replace(/&quot;/g, '"')
        .replace(/&apos;/g, "'")
        .replace(/&lt;/g, '<')
        .replace(/&gt;/g, '>')
        .replace(/&amp;/g, '&');
}
/** Whether S3 refused a form because its signed policy has expired. */
function isPolicyExpired(error) {
    return (error instanceof S3Error &&
        error.code === 'AccessDenied' &&
        /Policy expired/i.test(error.message));
}
/** MD5 (for S3's ETag) and SHA-256 (for the outputs) of the bytes as they go out. */
class Digests {
    md5 = (0,external_node_crypto_.createHash)('md5');
    sha256 = (0,external_node_crypto_.createHash)('sha256');
    bytes = 0;
    update(chunk) {
        this.md5.update(chunk);
        this.sha256.update(chunk);
        this.bytes += chunk.length;
    }
    result() {
        return { bytes: this.bytes, md5: this.md5.digest('hex'), sha256: this.sha256.digest('hex') };
    }
}
/** Buffers in the read ring: a chunk's buffer is read into again only this many chunks later. */
const RING_SIZE = 4;
/**
 * The file's bytes, `size` of them, in large chunks, each hashed on its way to the socket.
 * Positional reads on the one open handle, so a retry starts over from byte 0.
 * Reads go into a small ring of reused buffers, so memory stays flat however large the file
 * (fresh buffers per read pile up as garbage until the next GC: tens of MiB). Reuse is safe
 * because the HTTP client asks for the next chunk only once the socket has taken the last
 * (it awaits 'drain'), and the ring keeps three more chunks of margin; the MD5 checked
 * against S3's ETag would catch a chunk changed in flight.
 */
async function* fileChunks(file, digests, onProgress) {
    const { size } = file.artifact;
    // A small file needs one buffer of its own size, not the whole ring.
    const chunkSize = Math.max(1, Math.min(CHUNK_SIZE, size));
    const ring = Array.from({ length: Math.min(RING_SIZE, Math.ceil(size / chunkSize)) }, () => Buffer.allocUnsafe(chunkSize));
    let offset = 0;
    let slot = 0;
    // One read ahead: the disk works on the next chunk while the socket takes this one.
    const readNext = () => {
        if (offset >= size)
            return undefined;
        const buffer = ring[slot];
        const at = offset;
        const wanted = Math.min(chunkSize, size - at);
        offset += wanted;
        slot = (slot + 1) % ring.length;
        return file.read(buffer, wanted, at);
    };
    let pending = readNext();
    try {
        while (pending !== undefined) {
            const chunk = await pending;
            pending = readNext();
            digests.update(chunk);
            onProgress?.(digests.bytes);
            yield chunk;
        }
        // A file that grew since it was measured would land cut short.
        await file.checkSize();
    }
    finally {
        // The request may have ended early (an error): let a read in flight finish first.
        await pending?.catch(() => undefined);
    }
}

;// CONCATENATED MODULE: ./src/publish.ts








/** A delete whose outcome is unknown: its answer was lost and the server cannot be asked. */
class UnsureDeleteError extends ActionError {
}
/**
 * API requests a replace may need: the delete, the create, and should the upload fail, the
 * delete of the new record and the create that puts the old bytes back.
 */
const REPLACE_REQUESTS = 4;
/** A create, and the delete of its record should the upload fail. */
const CREATE_REQUESTS = 2;
/**
 * Publishes one planned file. Nothing the user had is lost on the way, and nothing is left
 * half-made: the file is opened before anything changes; a replaced download's bytes are
 * saved and checked before it is deleted, and put back if its successor cannot land; a
 * record whose bytes never arrived is deleted again. Every change is announced in the
 * journal first, so that the post step can finish the undo when this process is killed.
 */
class publish_Publisher {
    options;
    constructor(options) {
        this.options = options;
    }
    async publish(item) {
        const { artifact } = item;
        if (item.action === 'unchanged') {
            return {
                artifact,
                download: item.existing,
                // Lists may give a bare extension (`.zip`) where a create answered a MIME type.
                mimeType: item.existing.contentType.includes('/')
                    ? item.existing.contentType
                    : artifact.contentType,
                sha256: item.digests.sha256,
                md5: item.digests.md5,
                status: 'unchanged'
            };
        }
        this.options.cancellation.check();
        const file = await LocalFile.open(artifact);
        try {
            if (item.action === 'create') {
                const release = await this.options.gate.reserve(CREATE_REQUESTS, `Creating ${artifact.name}`);
                try {
                    const published = await this.createAndUpload(this.specOf(artifact), file, 'forward');
                    return { ...published, status: 'created' };
                }
                finally {
                    release();
                }
            }
            return await this.replace(item.replaces, item.reason === 'no-bytes', file);
        }
        finally {
            await file.close();
        }
    }
    specOf(artifact) {
        return {
            name: artifact.name,
            size: artifact.size,
            description: this.options.description,
            contentType: artifact.contentType
        };
    }
    /**
     * Replaces a download. The old download is gone from its delete until the new bytes land
     * (the API keys downloads by name, and S3 by a key made of the name, so the two cannot
     * coexist): that window is kept to the create and the upload, everything that can fail
     * earlier (the file, the copy, the rate limit budget) is checked before the delete.
     */
    async replace(old, empty, file) {
        const { journal, cancellation, gate } = this.options;
        const name = file.artifact.name;
        const release = await gate.reserve(REPLACE_REQUESTS, `Replacing ${name}`);
        let copy = null;
        let keepCopy = false;
        try {
            copy = empty ? null : await this.saveCopy(old);
            cancellation.check();
            journal.record({
                op: 'delete',
                name,
                id: old.id,
                description: old.description,
                contentType: old.contentType,
                copy: copy?.path ?? null,
                size: copy?.size ?? 0,
                md5: copy?.md5 ?? null
            });
            try {
                await this.deleteForReplace(old);
            }
            catch (error) {
                keepCopy = error instanceof UnsureDeleteError;
                throw error;
            }
            journal.record({ op: 'deleted', name, id: old.id });
            info(`Deleted the previous ${name} (download ${old.id}).`);
            try {
                const published = await this.createAndUpload(this.specOf(file.artifact), file, 'forward');
                return { ...published, status: 'replaced', replaced: old };
            }
            catch (error) {
                const outcome = await this.restore(old, copy, error);
                keepCopy = !outcome.restored;
                throw outcome.error;
            }
        }
        finally {
            release();
            if (copy !== null && !keepCopy)
                await (0,promises_.rm)(copy.path, { force: true });
        }
    }
    /**
     * Deletes the download being replaced. When the delete fails, asks the server whether it
     * happened anyway (its answer may have been lost): if the download is still there the
     * replace stops, leaving it as it was.
     */
    async deleteForReplace(old) {
        const { api, journal } = this.options;
        try {
            await api.delete(old.id, { mustExist: true });
        }
        catch (error) {
            if (error instanceof ConflictError) {
                journal.record({ op: 'kept', name: old.name, id: old.id });
                throw new ConflictError(`${errors_describe(error)}: another run or a person is changing ${old.name} at the same time. This run left ${old.name} to them; run the job again once they are done.`, { cause: error });
            }
            const stillThere = await api.list().then((all) => all.some((d) => d.id === old.id), () => undefined);
            if (stillThere === false)
                return;
            if (stillThere === undefined) {
                // The delete may have happened with its answer lost: the copy is all that is sure.
                throw new UnsureDeleteError(`${errors_describe(error)} Whether the existing ${old.name} (download ${old.id}) was deleted cannot be told, so its copy is kept and the post step checks.`, { cause: error });
            }
            journal.record({ op: 'kept', name: old.name, id: old.id });
            throw new ActionError(`${errors_describe(error)} The existing ${old.name} (download ${old.id}) was left as it is.`, { cause: error });
        }
    }
    /**
     * Creates the download and uploads the bytes; on failure, deletes the record it created.
     * `forward` work (a new file) stops when the run is cancelled; `undo` work (putting a
     * replaced download back) never does, and has the larger retry budget.
     */
    async createAndUpload(spec, file, mode) {
        const { http, journal, onProgress, cancellation, undo } = this.options;
        const { api, retry } = mode === 'forward' ? this.options : undo;
        const signal = mode === 'forward' ? cancellation.signal : undefined;
        const { artifact } = file;
        journal.record({ op: 'create', name: spec.name, size: spec.size });
        let ticket = await this.createRecord(spec, mode, signal);
        journal.record({ op: 'created', name: spec.name, id: ticket.download.id });
        try {
            const result = await withRetry(`Uploading ${spec.name} to S3`, { ...retry, signal }, async () => {
                try {
                    return await uploadToS3(http, ticket, file, {
                        onProgress: onProgress && ((sent) => onProgress(artifact, sent)),
                        signal
                    });
                }
                catch (error) {
                    if (!isPolicyExpired(error))
                        throw error;
                    // The signed form is dead; only a new download resource brings a new one.
                    info(`The upload policy for ${spec.name} expired: creating the download again.`);
                    await api.delete(ticket.download.id);
                    journal.record({ op: 'removed', name: spec.name, id: ticket.download.id });
                    ticket = await this.createRecord(spec, mode, signal);
                    journal.record({ op: 'created', name: spec.name, id: ticket.download.id });
                    // A policy that is dead on arrival again and again means a clock is off.
                    throw new ActionError(`${errors_describe(error)} (if every policy arrives expired, the server's clock is off)`, { transient: true, retryAfterMs: 0 });
                }
            });
            journal.record({ op: 'landed', name: spec.name, id: ticket.download.id });
            return {
                artifact,
                download: { ...ticket.download, size: result.bytes },
                mimeType: ticket.mimeType,
                sha256: result.sha256,
                md5: result.md5
            };
        }
        catch (error) {
            const id = ticket.download.id;
            try {
                await undo.api.delete(id);
                journal.record({ op: 'removed', name: spec.name, id });
                info(`Deleted download ${id} (${spec.name}): its bytes never arrived.`);
            }
            catch (cleanup) {
                warning(`Could not delete download ${id} (${spec.name}), whose bytes never arrived: ${errors_describe(cleanup)}. The post step tries again.`);
            }
            throw error;
        }
    }
    /**
     * The create, and what a lost answer leaves behind: a record the server made that this run
     * never heard of. It holds no bytes, so it is found by name and deleted (and, when a retry
     * met it as `already_exists`, the create is made once more). `already_exists` with no lost
     * answer is another writer's record, which is left alone.
     */
    async createRecord(spec, mode, signal) {
        const { journal } = this.options;
        const { api } = mode === 'forward' ? this.options : this.options.undo;
        try {
            return await api.create(spec, signal);
        }
        catch (error) {
            if (error instanceof LostCreateError) {
                const cleared = await this.clearEmptyRecords(spec.name);
                if (error.cause instanceof CancelledError) {
                    if (cleared)
                        journal.record({ op: 'removed', name: spec.name, id: null });
                    throw new CancelledError(`${errors_describe(error.cause)}. ${cleared ? 'No record of it was left behind.' : 'A record of it may be left behind: the post step checks.'}`);
                }
                if (cleared)
                    journal.record({ op: 'removed', name: spec.name, id: null });
                if (error.exists && cleared) {
                    info(`The answer to creating ${spec.name} was lost, but the server made it: deleted that one, creating it again.`);
                    return api.create(spec, signal);
                }
                throw new ActionError(`${errors_describe(error)} ${cleared ? 'No record of it was left behind.' : 'A record of it may be left behind: the post step checks.'}`, { cause: error });
            }
            if (error instanceof ApiError && error.codes.includes('already_exists')) {
                // Putting a download back: the name was this run's a moment ago, so the record in the
                // way is most likely one of its own that lost its bytes. Clear it and try once more.
                if (mode === 'undo' && (await this.clearEmptyRecords(spec.name))) {
                    return api.create(spec, signal);
                }
                throw new ConflictError(`A download named ${spec.name} was created by somebody else while this run worked (another run of this workflow?); this run left it alone.`, { cause: error });
            }
            throw error;
        }
    }
    /**
     * Deletes the records named `name` that hold no bytes. Resolves to whether none is left
     * (a record with bytes is somebody's file and stays).
     */
    async clearEmptyRecords(name) {
        const { api, storedBytes } = this.options.undo;
        try {
            for (const download of await api.findByName(name)) {
                if ((await storedBytes.probe(download)) !== null)
                    continue;
                await api.delete(download.id);
                info(`Deleted download ${download.id} (${name}): a record without bytes.`);
            }
            return true;
        }
        catch (error) {
            warning(`Could not check ${name} for a record without bytes: ${errors_describe(error)}`);
            return false;
        }
    }
    /** Saves a download's bytes, checked against S3's size and MD5, before it is replaced. */
    async saveCopy(download) {
        // Named by id only: any valid download name fits in a file name then.
        const copyPath = external_node_path_.join(this.options.tempDir, `previous-${download.id}`);
        let saved;
        try {
            saved = await this.options.storedBytes.save(download, copyPath, this.options.cancellation.signal);
        }
        catch (error) {
            await (0,promises_.rm)(copyPath, { force: true });
            if (error instanceof CancelledError)
                throw error;
            throw new ActionError(`Could not save a copy of the existing ${download.name} before replacing it, so it was left as it is: ${errors_describe(error)}`, { cause: error });
        }
        if (saved === null) {
            info(`The existing ${download.name} has no bytes (an unfinished upload): nothing to keep.`);
            return null;
        }
        return { ...saved, path: copyPath };
    }
    /**
     * Puts a replaced download back after its successor failed, from the saved copy. Returns
     * the error to raise, saying what really happened, and whether the copy landed.
     */
    async restore(previous, copy, cause) {
        // The same kind of error as the cause, with what became of the old download added.
        const failure = (note) => cause instanceof CancelledError
            ? new CancelledError(`${errors_describe(cause)}. ${note}`)
            : new ActionError(`${errors_describe(cause)} ${note}`, { cause });
        if (copy === null) {
            return {
                error: failure('The download it replaced held no bytes, so there was nothing to put back.'),
                restored: true
            };
        }
        try {
            const id = await this.putBack(previous, copy);
            return {
                error: failure(`The previous version of ${previous.name} was put back (download ${id}).`),
                restored: true
            };
        }
        catch (restoreError) {
            return {
                error: failure(`Putting back the previous version of ${previous.name} failed too (${errors_describe(restoreError)}); its bytes are kept at ${copy.path}, and the post step tries again.`),
                restored: false
            };
        }
    }
    /** Uploads a saved copy as the download it was; resolves to the new id. */
    async putBack(previous, copy) {
        const backup = await LocalFile.open({
            path: copy.path,
            name: previous.name,
            size: copy.size,
            contentType: previous.contentType
        });
        try {
            const spec = {
                name: previous.name,
                size: copy.size,
                description: previous.description,
                contentType: previous.contentType
            };
            const restored = await this.createAndUpload(spec, backup, 'undo');
            if (restored.md5 !== copy.md5) {
                throw new ActionError(`the copy of ${previous.name} on disk no longer has the MD5 it was saved with`);
            }
            this.options.journal.record({
                op: 'restored',
                name: previous.name,
                id: restored.download.id
            });
            info(`Put back the previous ${previous.name} as download ${restored.download.id}.`);
            return restored.download.id;
        }
        finally {
            await backup.close();
        }
    }
}

;// CONCATENATED MODULE: ./src/recovery.ts




/**
 * Finishes what a killed or cancelled main step left half-done, from its journal and the
 * server's state, which has the last word (an entry may announce a change that never
 * happened, or miss one that did). For each name the journal leaves open: records without
 * bytes that the run may have made are deleted; a replaced download that is gone with no
 * successor holding bytes is uploaded again from its saved copy. A name that is whole (the
 * new bytes landed after all) is left as it is.
 */
async function recovery_settle(entries, tools) {
    const open = namesToSettle(entries);
    if (open.length === 0)
        return [];
    const listed = await tools.api.list();
    const results = [];
    for (const state of open) {
        try {
            results.push(await settleName(state, listed, tools));
        }
        catch (error) {
            results.push({ name: state.name, ok: false, what: describe(error) });
        }
    }
    return results;
}
async function settleName(state, listed, tools) {
    const { name, replaced } = state;
    let whole;
    let removed = 0;
    for (const download of listed.filter((d) => d.name === name)) {
        // The download being replaced, never deleted: it stands as it was.
        if (replaced !== undefined && download.id === replaced.id) {
            whole = download;
            continue;
        }
        if ((await tools.storedBytes.probe(download)) !== null) {
            whole = download;
            continue;
        }
        await tools.api.delete(download.id);
        removed++;
        log.info(`${name}: deleted download ${download.id}, a record whose upload never finished.`);
    }
    const cleared = removed > 0 ? `deleted ${removed} record${removed === 1 ? '' : 's'} without bytes` : '';
    const and = (text) => [cleared, text].filter(Boolean).join('; ');
    if (replaced === undefined) {
        return whole !== undefined
            ? { name, ok: true, what: and(`whole: download ${whole.id} holds its bytes`) }
            : { name, ok: true, what: and('not published; nothing was left behind') };
    }
    if (whole !== undefined && whole.id === replaced.id) {
        return { name, ok: true, what: and(`download ${whole.id} was never deleted; left as it was`) };
    }
    if (whole !== undefined) {
        return { name, ok: true, what: and(`replaced: download ${whole.id} holds the new bytes`) };
    }
    if (replaced.copy === null || replaced.md5 === null) {
        return {
            name,
            ok: true,
            what: and(`the replaced download ${replaced.id} held no bytes; nothing to put back`)
        };
    }
    const copy = { path: replaced.copy, size: replaced.size, md5: replaced.md5 };
    const onDisk = await stat(copy.path).catch(() => null);
    if (onDisk === null || onDisk.size !== copy.size) {
        return {
            name,
            ok: false,
            what: and(`download ${replaced.id} was deleted and its saved copy at ${copy.path} is ${onDisk === null ? 'gone' : 'not whole'}: it cannot be put back`)
        };
    }
    const id = await tools.publisher.putBack(replaced, copy);
    return {
        name,
        ok: true,
        what: and(`put back the previous version from its saved copy (download ${id})`)
    };
}

// EXTERNAL MODULE: ./node_modules/undici/index.js
var undici = __webpack_require__(6752);
;// CONCATENATED MODULE: ./src/http.ts


const DEFAULT_TIMEOUTS = { connectMs: 30_000, idleMs: 120_000 };
/**
 * The real client: undici with keep-alive connections per origin. Redirects are never
 * followed here, so a token can never ride a redirect to another origin. `https_proxy`,
 * `http_proxy` and `no_proxy` are honoured, as the runner's other tools do.
 */
function createHttpClient(timeouts = DEFAULT_TIMEOUTS) {
    const dispatcher = new undici/* EnvHttpProxyAgent */.J2({
        connectTimeout: timeouts.connectMs,
        // Timeouts on silence, never on a large upload's total time: undici re-arms the headers
        // timer at every write that meets back-pressure, and the body timer at every chunk.
        headersTimeout: timeouts.idleMs,
        bodyTimeout: timeouts.idleMs,
        keepAliveTimeout: 30_000
    });
    return {
        async request(request) {
            let answer;
            try {
                answer = await dispatcher.request({
                    method: request.method,
                    origin: new URL(request.url).origin,
                    path: pathOf(request.url),
                    headers: request.headers,
                    // undici takes async iterables (and writes each chunk only once the socket has
                    // taken the last), but its request types do not list them.
                    body: request.body,
                    signal: request.signal
                });
            }
            catch (error) {
                if (request.signal?.aborted) {
                    throw new CancelledError(`${request.method} ${hostOf(request.url)} stopped: cancelled`);
                }
                // Our own errors from a request body (a file that changed) pass through as they are.
                if (error instanceof ActionError)
                    throw error;
                if (certificateError(error) !== undefined) {
                    // No retry fixes a certificate the runner does not trust.
                    throw new ActionError(`${request.method} ${hostOf(request.url)} failed: ${reason(error)}. If the server uses a private CA, point NODE_EXTRA_CA_CERTS at its PEM file.`, { cause: error });
                }
                throw new NetworkError(`${request.method} ${hostOf(request.url)} failed: ${reason(error)}`, error);
            }
            return {
                status: answer.statusCode,
                headers: flattenHeaders(answer.headers),
                text: () => answer.body.text().catch((error) => {
                    throw new NetworkError(`Reading the answer from ${hostOf(request.url)} failed: ${reason(error)}`, error);
                }),
                body: answer.body,
                dump: () => answer.body.dump().catch(() => undefined)
            };
        },
        close: () => dispatcher.close()
    };
}
function pathOf(url) {
    const parsed = new URL(url);
    return `${parsed.pathname}${parsed.search}`;
}
function hostOf(url) {
    return new URL(url).host;
}
/** Node's TLS verification failures (see tls.TLSSocket's authorizationError). */
const CERTIFICATE_ERRORS = new Set([
    'SELF_SIGNED_CERT_IN_CHAIN',
    'DEPTH_ZERO_SELF_SIGNED_CERT',
    'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
    'UNABLE_TO_GET_ISSUER_CERT',
    'CERT_HAS_EXPIRED',
    'CERT_NOT_YET_VALID',
    'ERR_TLS_CERT_ALTNAME_INVALID'
]);
/** The TLS verification code anywhere in an error's cause chain, if there is one. */
function certificateError(error) {
    for (let e = error; e instanceof Error; e = e.cause) {
        const code = e.code;
        if (typeof code === 'string' && CERTIFICATE_ERRORS.has(code))
            return code;
    }
    return undefined;
}
/** undici's error codes say more than its messages ("other side closed"). */
function reason(error) {
    if (error instanceof Error) {
        const code = error.code;
        const cause = error.cause instanceof Error ? ` (${error.cause.message})` : '';
        return code ? `${code}: ${error.message}${cause}` : `${error.message}${cause}`;
    }
    return String(error);
}
function flattenHeaders(headers) {
    const flat = {};
    for (const [name, value] of Object.entries(headers)) {
        if (value === undefined)
            continue;
        flat[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
    }
    return flat;
}

;// CONCATENATED MODULE: ./src/rate-limits.ts


/** GitHub: "wait at least one minute" when a secondary limit names no retry-after. */
const SECONDARY_FALLBACK_MS = 60_000;
/**
 * GitHub's two rate limits, shared by every request of the run: while one is in force no
 * API request is sent. Follows GitHub's "Best practices for using the REST API":
 * primary limit (remaining 0) → wait until `x-ratelimit-reset`; secondary limit → honour
 * `retry-after`, otherwise wait a minute and back off exponentially.
 */
class RateLimitGate {
    options;
    resumeAt = 0;
    secondaryHits = 0;
    /** The primary budget as the last answer told it. */
    remaining;
    resetAtMs;
    /** Requests promised to work in hand (see {@link reserve}). */
    reserved = 0;
    /** Set once a primary limit outlasts `maxWaitMs`: no new work starts after that. */
    exhausted;
    now;
    sleep;
    constructor(options) {
        this.options = options;
        this.now = options.now ?? Date.now;
        this.sleep = options.sleep ?? sleep;
    }
    /** Resolves once no limit is in force. */
    async ready() {
        for (let left = this.resumeAt - this.now(); left > 0; left = this.resumeAt - this.now()) {
            await this.sleep(left);
        }
    }
    /** Notes the budget an answer reports (`x-ratelimit-remaining` and `-reset`). */
    observe(headers) {
        const remaining = Number(headers['x-ratelimit-remaining']);
        const reset = Number(headers['x-ratelimit-reset']);
        if (headers['x-ratelimit-remaining'] !== undefined && Number.isFinite(remaining)) {
            this.remaining = remaining;
        }
        if (headers['x-ratelimit-reset'] !== undefined && Number.isFinite(reset)) {
            this.resetAtMs = reset * 1000;
        }
    }
    /**
     * Promises `requests` API requests to a piece of work that must not stop halfway (a
     * replace: delete, create, and, should the upload fail, the clean-up and the restore).
     * When the budget cannot cover them it waits for the reset, if the user allows that long,
     * and otherwise refuses: the work is then never started, rather than left half-done.
     * Resolves to the function that gives the promise back.
     */
    async reserve(requests, what) {
        for (;;) {
            if (this.exhausted !== undefined) {
                throw new ApiError(`${what} was not started: ${this.exhausted.message}`, 403);
            }
            await this.ready();
            if (this.remaining === undefined || this.remaining - this.reserved >= requests) {
                this.reserved += requests;
                let given = false;
                return () => {
                    if (!given)
                        this.reserved -= requests;
                    given = true;
                };
            }
            const now = this.now();
            const until = (this.resetAtMs ?? now + 60_000) + 1000;
            const failure = this.holdUntil('primary', until, now, `${this.remaining} requests left, ${what} needs ${requests} with ${this.reserved} promised to work in hand`);
            if (!failure.transient)
                throw new ApiError(`${what} was not started: ${failure.message}`, 403);
            // After the reset the next answer tells the new budget.
            this.remaining = undefined;
        }
    }
    /**
     * Looks at an answer. A rate-limited one holds every later request back and comes back
     * as a transient error (or a final one when the wait is longer than the user allows);
     * any other answer comes back as `null`.
     */
    check(status, headers, message) {
        if (status !== 403 && status !== 429)
            return null;
        const now = this.now();
        if (headers['x-ratelimit-remaining'] === '0') {
            const resetMs = Number(headers['x-ratelimit-reset']) * 1000;
            // A second of margin: the reset time is whole seconds, and clocks differ.
            const until = Number.isFinite(resetMs) && resetMs > now ? resetMs + 1000 : now + 60_000;
            return this.holdUntil('primary', until, now, message);
        }
        if (/secondary rate limit/i.test(message) || status === 429) {
            this.secondaryHits++;
            this.options.onSecondary?.();
            const retryAfter = Number(headers['retry-after']);
            const waitMs = headers['retry-after'] !== undefined && Number.isFinite(retryAfter) && retryAfter >= 0
                ? retryAfter * 1000
                : SECONDARY_FALLBACK_MS * 2 ** (this.secondaryHits - 1);
            return this.holdUntil('secondary', now + waitMs, now, message);
        }
        return null;
    }
    holdUntil(kind, until, now, message) {
        const waitMs = until - now;
        if (waitMs > this.options.maxWaitMs) {
            const when = new Date(until).toISOString();
            this.exhausted = new ApiError(`GitHub's ${kind} rate limit is exhausted (${message}). It lifts at ${when}, ` +
                `in ${Math.ceil(waitMs / 1000)} s, longer than 'rate-limit-wait' allows ` +
                `(${Math.round(this.options.maxWaitMs / 1000)} s): re-run after that, or raise 'rate-limit-wait'.`, 403);
            return this.exhausted;
        }
        this.resumeAt = Math.max(this.resumeAt, until);
        this.options.onWait?.(kind, waitMs);
        return new ApiError(`GitHub's ${kind} rate limit (${message})`, 403, {
            transient: true,
            // The gate already holds every request until the limit lifts; no backoff on top.
            retryAfterMs: 0
        });
    }
}

// EXTERNAL MODULE: external "node:stream"
var external_node_stream_ = __webpack_require__(7075);
// EXTERNAL MODULE: external "node:stream/promises"
var external_node_stream_promises_ = __webpack_require__(6466);
;// CONCATENATED MODULE: ./src/stored-bytes.ts







const MAX_REDIRECTS = 5;
const MD5_ETAG = /^"?([0-9a-f]{32})"?$/i;
/**
 * A download's bytes, reached through its `html_url`, which redirects to the object on S3
 * (GitHub's github.com/downloads/… URL did). Redirects are followed by hand, and plain http
 * only to this machine. No token is sent: the object is S3's, and the html_url is github.com,
 * not the API.
 */
class StoredBytes {
    http;
    retry;
    constructor(http, retry) {
        this.http = http;
        this.retry = retry;
    }
    /**
     * What S3 holds for the download: null when it has no bytes (the html_url or the object
     * answers 404: a record whose upload never finished, which holds no user data).
     */
    async probe(download) {
        return withRetry(`Looking at the stored ${download.name}`, this.retry, async () => {
            const res = await this.follow(download, 'HEAD');
            if (res === null)
                return null;
            await res.dump();
            const etag = MD5_ETAG.exec(res.headers['etag'] ?? '');
            return {
                size: Number(res.headers['content-length'] ?? -1),
                md5: etag ? etag[1].toLowerCase() : null
            };
        });
    }
    /**
     * Streams the download's bytes into `destination` (a file path, or null to only measure
     * them) and checks them against S3's length and ETag, so that a copy kept to undo a replace
     * is known to be whole. Resolves to null when the download has no bytes.
     */
    async save(download, destination, signal) {
        return withRetry(`Saving a copy of ${download.name}`, { ...this.retry, signal }, async () => {
            const res = await this.follow(download, 'GET', signal);
            if (res === null)
                return null;
            const md5 = (0,external_node_crypto_.createHash)('md5');
            let size = 0;
            const sink = destination === null
                ? new external_node_stream_.Writable({ write: (_chunk, _encoding, done) => done() })
                : (0,external_node_fs_.createWriteStream)(destination, { mode: 0o600 });
            try {
                await (0,external_node_stream_promises_.pipeline)(res.body, async function* (source) {
                    for await (const chunk of source) {
                        md5.update(chunk);
                        size += chunk.length;
                        yield chunk;
                    }
                }, sink);
            }
            catch (error) {
                if (signal?.aborted)
                    throw new CancelledError(`saving a copy of ${download.name} stopped`);
                // The file system's errors are ours to report as such; the rest is the network.
                if (isFileSystemError(error)) {
                    throw new LocalFileError(`Could not write the copy to ${destination}: ${error.message}`, { cause: error });
                }
                throw new NetworkError(`Reading the stored ${download.name} broke off after ${size} bytes`, error);
            }
            const digest = md5.digest('hex');
            const expected = Number(res.headers['content-length'] ?? size);
            if (size !== expected) {
                throw new NetworkError(`Reading the stored ${download.name} stopped after ${size} of ${expected} bytes.`, undefined);
            }
            const etag = MD5_ETAG.exec(res.headers['etag'] ?? '');
            if (etag && etag[1].toLowerCase() !== digest) {
                throw new NetworkError(`The stored ${download.name} arrived with MD5 ${digest}, not S3's ETag ${etag[1]}.`, undefined);
            }
            return { size, md5: digest };
        });
    }
    /** Follows the html_url's redirects to the object; null when the object store has none. */
    async follow(download, method, signal) {
        if (download.htmlUrl === '') {
            throw new ApiError(`The server lists ${download.name} without an html_url.`, 0);
        }
        let url = download.htmlUrl;
        for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
            const target = new URL(url);
            if (!isSecureOrLocal(target)) {
                throw new ActionError(`${download.name}'s bytes are served over plain http (${target.origin}); refusing to fetch them.`);
            }
            const res = await this.http.request({
                method,
                url,
                headers: { 'user-agent': 'upload-downloads-action' },
                signal
            });
            if (res.status >= 300 && res.status < 400 && res.headers['location']) {
                await res.dump();
                url = new URL(res.headers['location'], url).href;
                continue;
            }
            if (res.status === 404) {
                await res.dump();
                // Only the object store's 404 says "no bytes". The html_url's own 404 could as well
                // mean a page that needs a login: no download is judged empty on that.
                if (hop > 0)
                    return null;
                throw new ApiError(`The html_url of ${download.name} answered 404, so whether it holds bytes cannot be told.`, 404);
            }
            if (res.status !== 200) {
                await res.dump();
                throw new ApiError(`Fetching the stored ${download.name} answered ${res.status}.`, res.status, { transient: res.status >= 500 || res.status === 429 || res.status === 408 });
            }
            return res;
        }
        throw new ActionError(`Fetching the stored ${download.name} was redirected more than ${MAX_REDIRECTS} times.`);
    }
}
function isFileSystemError(error) {
    const code = error?.code;
    return (typeof code === 'string' && /^E(NOSPC|ACCES|PERM|NAMETOOLONG|ROFS|NOENT|DQUOT|IO)$/.test(code));
}

;// CONCATENATED MODULE: ./src/session.ts








const UNDO_ATTEMPTS = 10;
function session_createSession(inputs) {
    const http = createHttpClient();
    const limit = new AdaptiveLimit(inputs.concurrency);
    const gate = new RateLimitGate({
        maxWaitMs: inputs.rateLimitWait * 1000,
        onSecondary: () => {
            if (limit.lower()) {
                warning(`GitHub's secondary rate limit hit: uploading ${limit.current} at a time from now on.`);
            }
        },
        onWait: (kind, ms) => info(`GitHub's ${kind} rate limit: holding every request for ${Math.ceil(ms / 1000)} s.`)
    });
    const retry = {
        maxAttempts: inputs.maxAttempts,
        // Tests set a millisecond backoff, so that injected faults do not make them wait for real.
        baseDelayMs: Number(process.env.UPLOAD_DOWNLOADS_RETRY_DELAY_MS ?? 1000),
        maxDelayMs: 30_000,
        onRetry: ({ what, attempt, delayMs, error }) => info(`${what}: attempt ${attempt} failed (${errors_describe(error)}); trying again in ${(delayMs / 1000).toFixed(1)} s.`)
    };
    const tools = (retry) => ({
        api: new DownloadsApi(http, { apiUrl: inputs.apiUrl, token: inputs.token, owner: inputs.owner, repo: inputs.repo }, retry, gate),
        storedBytes: new StoredBytes(http, retry),
        retry
    });
    return {
        ...tools(retry),
        undo: tools({ ...retry, maxAttempts: Math.max(UNDO_ATTEMPTS, inputs.maxAttempts) }),
        http,
        gate,
        limit,
        close: () => http.close()
    };
}
/** Where the main step tells its post step about the journal. */
const session_JOURNAL_STATE = 'journal';
function saveJournalPath(path) {
    lib_core/* saveState */.LZ(session_JOURNAL_STATE, path);
}

;// CONCATENATED MODULE: ./src/main.ts




















/**
 * The action's main step: read the inputs, find the files, check them against the
 * repository's downloads, publish them, and report. The one place that fails the step.
 */
async function run() {
    const started = Date.now();
    let session;
    let work;
    // Installed only once changes start: until then a signal may end the process at once,
    // since there is nothing to undo.
    const cancellation = new cancellation_Cancellation(info);
    try {
        const inputs = inputs_readInputs();
        const artifacts = await lib_core/* group */.Os('Files', () => matchFiles(inputs));
        if (artifacts.length === 0) {
            setOutputs([]);
            return;
        }
        session = session_createSession(inputs);
        const { plan, existing } = await lib_core/* group */.Os('Plan', () => planUploads(session, artifacts, inputs));
        const inspector = clashInspector(session);
        if (inputs.dryRun) {
            const planned = [];
            for (const item of plan)
                planned.push({ item, sha256: (await digestsFor(item)).sha256 });
            if (inputs.checksumsFile !== undefined) {
                const checksums = await writeChecksums(inputs.checksumsFile, planned.map(({ item, sha256 }) => ({ name: item.artifact.name, sha256 })));
                lib_core/* setOutput */.uH('checksums-path', checksums.path);
                const [item] = await makePlan([checksums], existing, inputs.replaceExisting, session.api.slug, inspector);
                info(describeItem(item));
                planned.push({ item, sha256: (await digestsFor(item)).sha256 });
            }
            const ownNames = new Set(planned.map(({ item }) => item.artifact.name));
            const wouldPrune = downloadsToPrune(existing, inputs.prune, inputs.pruneKeep, ownNames);
            for (const d of wouldPrune)
                info(`prune ${d.name} (download ${d.id}, ${d.createdAt})`);
            setPlannedOutputs(planned);
            lib_core/* setOutput */.uH('pruned', '[]');
            await writeSummary({
                published: [],
                failed: [],
                planned: planned.map(({ item }) => item),
                dryRun: true,
                repository: session.api.slug,
                elapsedMs: Date.now() - started,
                pruned: wouldPrune
            });
            info('Dry run: nothing was changed.');
            return;
        }
        cancellation.listen();
        work = await openWorkspace(session.api.slug);
        const progress = new ProgressLog();
        const publisher = new publish_Publisher({
            ...session,
            journal: work.journal,
            cancellation,
            description: inputs.description,
            tempDir: work.dir,
            onProgress: (artifact, sent) => progress.update(artifact, sent)
        });
        const { published, failed } = await lib_core/* group */.Os('Upload', () => publishAll(plan, session, publisher));
        // The checksums file and the pruning come last, and only after a run in which every file
        // landed: a checksums file must list exactly what is published, and pruning must never
        // leave fewer good builds than there were.
        const complete = failed.length === 0 && !cancellation.cancelled;
        if (inputs.checksumsFile !== undefined) {
            const name = inputs.checksumsFile;
            if (!complete) {
                info(`${name} is not published: not every file landed.`);
            }
            else {
                await lib_core/* group */.Os('Checksums', async () => {
                    const checksums = await writeChecksums(name, published.map((p) => ({ name: p.download.name, sha256: p.sha256 })));
                    lib_core/* setOutput */.uH('checksums-path', checksums.path);
                    try {
                        const [item] = await makePlan([checksums], existing, inputs.replaceExisting, session.api.slug, inspector);
                        info(describeItem(item));
                        const done = await publisher.publish(item);
                        info(`${name} → ${done.download.htmlUrl} (${done.status})`);
                        published.push(done);
                    }
                    catch (error) {
                        failed.push({ name, message: errors_describe(error) });
                    }
                });
            }
        }
        let pruned = [];
        if (inputs.prune.length > 0) {
            if (failed.length > 0 || cancellation.cancelled) {
                info('Nothing is pruned: not every file landed.');
            }
            else {
                pruned = await lib_core/* group */.Os('Prune', () => prune(session, inputs, published, failed));
            }
        }
        lib_core/* setOutput */.uH('pruned', JSON.stringify(pruned.map((d) => ({ id: d.id, name: d.name }))));
        setOutputs(published);
        const unsettled = journal_namesToSettle(work.journal.entries).map((state) => state.name);
        await writeSummary({
            published,
            failed,
            planned: plan,
            dryRun: false,
            repository: session.api.slug,
            elapsedMs: Date.now() - started,
            cancelled: cancellation.cancelled ? cancellation.reason : undefined,
            unsettled,
            pruned
        });
        if (unsettled.length > 0) {
            warning(`Left half-done, for the post step to settle: ${unsettled.join(', ')}. Its saved copies are in ${work.dir}.`);
        }
        // One annotation per failed file, naming it and the cause; the last one fails the step.
        const messages = failed.map((failure) => `${failure.name}: ${failure.message}`);
        if (cancellation.cancelled) {
            messages.push(`Cancelled (${cancellation.reason}): ${published.length} of ${plan.length} files are published; the others were undone or never started.`);
        }
        messages.forEach((message, i) => {
            if (i < messages.length - 1)
                error(message);
            else
                lib_core/* setFailed */.C1(message);
        });
    }
    catch (error) {
        await writeStoppedSummary(errors_describe(error));
        lib_core/* setFailed */.C1(errors_describe(error));
    }
    finally {
        await work?.close();
        await session?.close();
        cancellation.dispose();
    }
}
/**
 * The post step (`post-if: always()`): the runner runs it after the main step however that
 * ended, a kill included. When the main step's journal shows names left half-done, it
 * settles them: records without bytes are deleted, replaced downloads put back from their
 * saved copies. After a clean run it says so in one line.
 */
async function runPost() {
    const journalPath = core.getState(JOURNAL_STATE);
    let session;
    let journal;
    try {
        const read = journalPath === '' ? null : await Journal.read(journalPath).catch(() => null);
        if (read === null || finishedCleanly(read.entries)) {
            log.info('Post step: the main step left nothing half-done.');
            return;
        }
        if (read.skipped > 0) {
            log.info(`The journal has ${read.skipped} unreadable line(s) (a write cut short); passed over.`);
        }
        if (namesToSettle(read.entries).length === 0) {
            log.info('Post step: the main step left nothing half-done.');
            await rm(path.dirname(journalPath), { recursive: true, force: true });
            return;
        }
        const inputs = readInputs();
        session = createSession(inputs);
        journal = Journal.open(journalPath);
        const publisher = new Publisher({
            ...session,
            journal,
            // The post step is itself the undo: nothing in it is cut short.
            cancellation: new Cancellation(),
            description: inputs.description,
            tempDir: path.dirname(journalPath)
        });
        const tools = { api: session.undo.api, storedBytes: session.undo.storedBytes, publisher };
        const results = await core.group('Settle what the main step left half-done', async () => {
            const settled = await settle(read.entries, tools);
            for (const result of settled)
                log.info(`${result.name}: ${result.what}`);
            return settled;
        });
        await writeRecoverySummary(session.api.slug, results);
        const failed = results.filter((r) => !r.ok);
        if (failed.length === 0) {
            journal.record({ op: 'done' });
            journal.close();
            await rm(path.dirname(journalPath), { recursive: true, force: true });
            return;
        }
        const messages = failed.map((r) => `${r.name}: ${r.what}`);
        messages.forEach((message, i) => {
            if (i < messages.length - 1)
                log.error(message);
            else
                core.setFailed(message);
        });
    }
    catch (error) {
        core.setFailed(`The post step could not settle what the main step left: ${describe(error)}`);
    }
    finally {
        journal?.close();
        await session?.close();
    }
}
async function openWorkspace(repository) {
    const dir = await (0,promises_.mkdtemp)(external_node_path_.join(process.env.RUNNER_TEMP || (0,external_node_os_.tmpdir)(), 'upload-downloads-'));
    const journal = journal_Journal.open(external_node_path_.join(dir, 'journal.jsonl'));
    // Before the first change: the post step finds the journal through this.
    saveJournalPath(journal.path);
    journal.record({ op: 'run', repository, at: new Date().toISOString() });
    return {
        dir,
        journal,
        async close() {
            if (journal_namesToSettle(journal.entries).length > 0) {
                // The post step needs the journal and the copies.
                journal.close();
                return;
            }
            journal.record({ op: 'done' });
            journal.close();
            await (0,promises_.rm)(dir, { recursive: true, force: true });
        }
    };
}
async function matchFiles(inputs) {
    const artifacts = await findArtifacts(inputs.patterns, inputs.workspace, {
        includeHiddenFiles: inputs.includeHiddenFiles,
        nameOf: inputs.nameOf
    });
    const taken = artifacts.find((a) => a.name === inputs.checksumsFile);
    if (taken !== undefined) {
        throw new Error(`Input 'checksums-file' is ${taken.name}, the download name of ${taken.path} too: leave that file out with a '!' pattern, or name the checksums file otherwise.`);
    }
    for (const artifact of artifacts)
        info(`${artifact.name} (${humanSize(artifact.size)}) ← ${artifact.path}`);
    if (artifacts.length > 0)
        return artifacts;
    const message = `No files matched ${inputs.patterns.map((p) => `'${p}'`).join(', ')} in ${inputs.workspace}. Check the 'glob' input and that the build step wrote its files there.`;
    if (inputs.ifNoFilesFound === 'error')
        throw new Error(message);
    if (inputs.ifNoFilesFound === 'warn')
        warning(message);
    else
        info(message);
    return artifacts;
}
/** Digests computed for the plan, reused by the dry run. */
const digestCache = new Map();
function digestsFor(item) {
    if ('action' in item && item.action === 'unchanged')
        return Promise.resolve(item.digests);
    let digests = digestCache.get(item.artifact.path);
    if (digests === undefined) {
        digests = digestsOf(item.artifact);
        digestCache.set(item.artifact.path, digests);
    }
    return digests;
}
async function planUploads(session, artifacts, inputs) {
    const { api } = session;
    const existing = await api.list();
    info(`${api.slug} has ${existing.length} download${existing.length === 1 ? '' : 's'}.`);
    const plan = await makePlan(artifacts, existing, inputs.replaceExisting, api.slug, clashInspector(session));
    for (const item of plan)
        info(describeItem(item));
    return { plan, existing };
}
/** How the plan looks at what a download holds: through its html_url, without the token. */
function clashInspector(session) {
    const { storedBytes } = session;
    return {
        stored: (download) => storedBytes.probe(download),
        storedMd5: async (download) => (await storedBytes.save(download, null))?.md5 ?? null,
        digestsOf: (artifact) => digestsFor({ artifact })
    };
}
/**
 * Deletes the old downloads that `prune` names, keeping the newest `prune-keep` and never one
 * this run published. Listed afresh: the run itself changed the list.
 */
async function prune(session, inputs, published, failed) {
    const own = new Set(published.map((p) => p.download.name));
    const doomed = downloadsToPrune(await session.api.list(), inputs.prune, inputs.pruneKeep, own);
    if (doomed.length === 0)
        info(`No download matches 'prune' beyond the ${inputs.pruneKeep} kept.`);
    const pruned = [];
    for (const download of doomed) {
        try {
            await session.api.delete(download.id);
            pruned.push(download);
            info(`Pruned ${download.name} (download ${download.id}, ${download.createdAt}).`);
        }
        catch (error) {
            failed.push({ name: download.name, message: `pruning it failed: ${errors_describe(error)}` });
        }
    }
    return pruned;
}
async function publishAll(plan, session, publisher) {
    const results = await settleAll(plan, session.limit, async (item) => {
        const published = await publisher.publish(item);
        if (published.status !== 'unchanged') {
            info(`${item.artifact.name} → ${published.download.htmlUrl} (${published.status})`);
        }
        return published;
    });
    const published = [];
    const failed = [];
    results.forEach((result, i) => {
        if (result.status === 'fulfilled')
            published.push(result.value);
        else {
            failed.push({ name: plan[i].artifact.name, message: errors_describe(result.reason) });
        }
    });
    return { published, failed };
}


/***/ })

};
