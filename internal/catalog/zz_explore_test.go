package catalog_test

import (
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/tally-credits/tally/internal/catalog"
)

func TestZZExplore(t *testing.T) {
	data, _ := os.ReadFile(os.Getenv("EXPLORE"))
	c, err := catalog.Parse(data)
	var ve *catalog.ValidationError
	if errors.As(err, &ve) {
		for _, is := range ve.Issues {
			fmt.Printf("%d:%d %s | %s\n", is.Line, is.Column, is.Path, is.Message)
		}
	} else {
		fmt.Println("err", err, "cat", c != nil)
	}
}
