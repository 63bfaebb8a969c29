package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// This file decides which files `gcloud functions deploy --source=.`
// uploads, the way the Cloud SDK does. It follows the Cloud SDK 528.0.0
// sources installed with the emulators (/usr/lib/google-cloud-sdk/lib/
// googlecloudsdk/command_lib/util/gcloudignore.py: FileChooser.FromString,
// IsIncluded, GetIncludedFiles; and glob.py: Glob._MatchesHelper,
// Glob.FromString), which differ from git in ways that matter here: a
// pattern with a slash inside is not anchored to the root (only a leading
// "/" or "**/" anchors), the last matching pattern of each path prefix wins,
// and once a directory is ignored nothing below it can come back.
// TestUploadSetMatchesGcloud compares the result with the real
// `gcloud meta list-files-for-upload`.

type ignorePattern struct {
	parts     []string // the glob split at "/"; a leading "" anchors it
	negated   bool
	mustBeDir bool
}

type ignoreFile struct{ patterns []ignorePattern }

var oddTrailingBackslashes = regexp.MustCompile(`(^|[^\\])\\(\\\\)*$`)

// readIgnoreFile reads dir/name. "#!include:FILE" lines are followed one
// level deep, from dir, as gcloud does (FileChooser.FromFile recurse=1).
func readIgnoreFile(dir, name string, recurse int) (*ignoreFile, error) {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return nil, fmt.Errorf("reading ignore file: %w", err)
	}
	var f ignoreFile
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if strings.HasPrefix(line, "#") {
			rest := strings.TrimLeft(line[1:], " \t")
			if strings.HasPrefix(rest, "!include:") {
				inc := line[strings.Index(line, "!include:")+len("!include:"):]
				if strings.Contains(inc, "/") {
					return nil, fmt.Errorf("%s: %q: may only include files in the same directory", name, line)
				}
				if recurse > 0 {
					sub, err := readIgnoreFile(dir, inc, recurse-1)
					if err != nil {
						return nil, fmt.Errorf("%s includes %s: %w", name, inc, err)
					}
					f.patterns = append(f.patterns, sub.patterns...)
				}
			}
			continue
		}
		if p, ok := parseIgnoreLine(line); ok {
			f.patterns = append(f.patterns, p)
		}
	}
	return &f, sc.Err()
}

// parseIgnoreLine is Pattern.FromString + Glob.FromString; invalid lines
// (blank, odd trailing backslashes) are skipped as gcloud skips them.
func parseIgnoreLine(line string) (ignorePattern, bool) {
	var p ignorePattern
	if strings.HasPrefix(line, "!") {
		line, p.negated = line[1:], true
	}
	if strings.HasSuffix(line, "/") {
		line, p.mustBeDir = line[:len(line)-1], true
	}
	line = handleSpaces(line)
	if oddTrailingBackslashes.MatchString(line) {
		return p, false
	}
	line = unescape(line)
	if line == "" {
		return p, false
	}
	p.parts = strings.Split(line, "/")
	return p, true
}

// handleSpaces strips unescaped trailing spaces and unescapes "\ ".
func handleSpaces(line string) string {
	var tokens []string
	for i := 0; i < len(line); i++ {
		if line[i] == '\\' && i+1 < len(line) {
			tokens = append(tokens, line[i:i+2])
			i++
			continue
		}
		tokens = append(tokens, line[i:i+1])
	}
	for len(tokens) > 0 && tokens[len(tokens)-1] == " " {
		tokens = tokens[:len(tokens)-1]
	}
	return strings.ReplaceAll(strings.Join(tokens, ""), `\ `, " ")
}

// unescape: "\\" is one backslash, "\x" is x.
func unescape(line string) string {
	var b strings.Builder
	for i := 0; i < len(line); i++ {
		if line[i] == '\\' && i+1 < len(line) {
			i++
		}
		b.WriteByte(line[i])
	}
	return b.String()
}

// pyPath is a Python path that may be None, which _MatchesHelper keeps
// apart from "" (the root).
type pyPath struct {
	s     string
	valid bool
}

// matches is Glob._MatchesHelper: it matches pattern parts right to left
// against path parts.
func matches(parts []string, p pyPath) bool {
	if len(parts) == 0 {
		return true
	}
	if !p.valid {
		return false
	}
	last, rest := parts[len(parts)-1], parts[:len(parts)-1]
	s := p.s
	if s != "" {
		s = path.Clean(s)
	}
	dir, base := pySplit(s)
	remaining := pyPath{dir, base != ""}
	if last == "**" {
		// "**" matches any number of trailing parts and anchors what is
		// left of the pattern at the root.
		anchored := rest
		if len(rest) == 0 || rest[0] != "" {
			anchored = append([]string{""}, rest...)
		}
		for _, prefix := range pathPrefixes(s) {
			if matches(anchored, pyPath{prefix, true}) {
				return true
			}
		}
		return false
	}
	if last == "*" && len(rest) == 0 && remaining.valid && len(remaining.s) > 1 {
		return false
	}
	if !fnmatch(last, base) {
		return false
	}
	return matches(rest, remaining)
}

// pySplit is os.path.split for the clean relative paths used here.
func pySplit(s string) (string, string) {
	i := strings.LastIndex(s, "/")
	if i < 0 {
		return "", s
	}
	return s[:i], s[i+1:]
}

// pathPrefixes: "a/b/c" → "", "a", "a/b", "a/b/c".
func pathPrefixes(s string) []string {
	out := []string{s}
	for s != "" {
		var tail string
		s, tail = pySplit(s)
		if tail == "" {
			break
		}
		out = append([]string{s}, out...)
	}
	return out
}

// fnmatch is Python's fnmatch.fnmatch for one path part: path.Match agrees
// on "*", "?" and classes once "[!" is written "[^"; a part has no "/".
func fnmatch(pattern, name string) bool {
	ok, err := path.Match(strings.ReplaceAll(pattern, "[!", "[^"), name)
	return err == nil && ok
}

type matchResult int

const (
	noMatch matchResult = iota
	include
	ignore
)

func (p ignorePattern) match(rel string, isDir bool) matchResult {
	if p.mustBeDir && !isDir {
		return noMatch
	}
	if !matches(p.parts, pyPath{rel, true}) {
		return noMatch
	}
	if p.negated {
		return include
	}
	return ignore
}

// included is FileChooser.IsIncluded: for each directory above rel and rel
// itself, the last pattern that matches decides, and an ignored directory
// ignores everything below it.
func (f *ignoreFile) included(rel string, isDir bool) bool {
	for _, prefix := range pathPrefixes(rel)[1:] {
		m := noMatch
		for _, p := range f.patterns {
			if r := p.match(prefix, prefix != rel || isDir); r != noMatch {
				m = r
			}
		}
		if m == ignore {
			return false
		}
	}
	return true
}

// uploadSet lists, slash-separated and sorted, the files under root that
// gcloud uploads (GetIncludedFiles without directories). With no
// .gcloudignore gcloud would write a default one; this repository has one,
// and the check requires it.
func uploadSet(root string) ([]string, error) {
	f, err := readIgnoreFile(root, ".gcloudignore", 1)
	if err != nil {
		return nil, err
	}
	var files []string
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == root {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		isDir := d.IsDir()
		if d.Type()&fs.ModeSymlink != 0 {
			// gcloud follows symlinks (os.walk followlinks=True).
			st, err := os.Stat(p)
			if err != nil {
				return fmt.Errorf("following symlink %s: %w", rel, err)
			}
			isDir = st.IsDir()
			if isDir {
				return fmt.Errorf("%s: a symlinked directory in the source; the check does not follow it", rel)
			}
		}
		if !f.included(rel, isDir) {
			if isDir {
				return filepath.SkipDir
			}
			return nil
		}
		if !isDir {
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("walking %s: %w", root, err)
	}
	sort.Strings(files)
	return files, nil
}
