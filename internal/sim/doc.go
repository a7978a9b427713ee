// Command sim is glidepath's detection benchmark placeholder.
package main
