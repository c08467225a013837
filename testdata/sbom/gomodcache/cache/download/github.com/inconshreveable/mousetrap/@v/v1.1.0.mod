module github.com/inconshreveable/mousetrap

go 1.18
