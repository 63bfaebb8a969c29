module github.com/telemed/videocalls/buildpack

go 1.26.0
