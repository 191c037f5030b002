// Command hello is what TestBuildIgnoresTheUsersGoEnvironment builds.
package main

import "fmt"

var greeting = "hello"

func main() { fmt.Println(greeting) }
